"""Mounting Mintage inside another Starlette or FastAPI application.

Starlette runs only the outermost application's lifespan: a ``Mount``-ed Mintage would
never open its store nor create its signing keys.  :func:`mount` mounts it and runs its
lifespan inside the host's, which then needs no lifespan of its own for Mintage.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette


def mount(parent: Starlette, path: str, app: Starlette, *, name: str | None = None) -> None:
    """Mount ``app`` (from :func:`mintage.create_app`) at ``path`` in ``parent`` and
    run its start-up and shutdown around the parent's own lifespan.

    The issuer (``Settings.issuer``) must be the mounted URL, e.g.
    ``https://example.com/auth`` for ``path="/auth"``: the metadata advertises the
    endpoints below it (RFC 8414 §2).
    """
    parent.mount(path, app, name=name)
    outer = parent.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(host: Any) -> AsyncIterator[Any]:
        async with app.router.lifespan_context(app), outer(host) as state:
            yield state  # the host's lifespan state (``request.state``), or None

    parent.router.lifespan_context = lifespan
