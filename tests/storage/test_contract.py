"""The store contract (:mod:`mintage.testing`), run against memory, SQLite and PostgreSQL.

Every bundled store passes every test of it unchanged: the ``store`` fixture of
``conftest.py`` is an opened, empty store of each backend.  A custom store runs the same
classes (docs/storage.md); tests/storage/test_contract_partial.py runs them on a store
of some concerns only.
"""

from __future__ import annotations

from mintage.testing import StoreContract


class TestBundledStores(StoreContract):
    pass
