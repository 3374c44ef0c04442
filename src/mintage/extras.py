"""Optional dependencies: which ``pip install 'mintage[…]'`` extra brings a missing one.

``pip install mintage`` is the resource-server kit alone; the authorization server and
its optional backends come with extras (``pyproject.toml``).  Where code reaches for one
of them, :func:`extra_needed` turns Python's bare "No module named 'asyncpg'" into the
install command that fixes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

#: the import names the ``server`` extra brings (the top-level ones ``mintage.web``,
#: ``mintage.settings``, the stores and the CLI import)
SERVER_MODULES = frozenset(
    {
        "starlette",
        "uvicorn",
        "jinja2",
        "argon2",
        "cryptography",
        "sqlalchemy",
        "alembic",
        "pydantic",
        "pydantic_settings",
        "click",
        "orjson",
        "prometheus_client",
        "structlog",
        "limits",
    }
)


@contextlib.contextmanager
def extra_needed(extra: str, modules: Iterable[str]) -> Iterator[None]:
    """Re-raise a missing import of one of ``modules`` with the extra that installs it.

    Any other ``ModuleNotFoundError`` (a bug, not a missing extra) passes unchanged.
    """
    names = frozenset(modules)
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in names:
            raise
        raise ModuleNotFoundError(
            f"{top} is not installed: pip install 'mintage[{extra}]'", name=exc.name
        ) from exc
