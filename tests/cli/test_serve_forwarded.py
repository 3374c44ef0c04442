"""``mintage serve`` behind a reverse proxy: ``X-Forwarded-For``/``-Proto`` are believed
only from the addresses in ``forwarded_allow_ips`` (docs/operations.md)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError

from mintage.cli.serve import uvicorn_options
from mintage.settings import Settings

Scope = dict[str, Any]

FORWARDED = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]


async def seen_by_the_app(settings: Settings, peer: str) -> Scope:
    """The scope Mintage's app gets for a request from ``peer`` carrying FORWARDED, with
    the middleware uvicorn builds from ``mintage serve``'s options."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)

    options = uvicorn_options(settings)
    config = uvicorn.Config(app, **{k: v for k, v in options.items() if k not in ("loop",)})
    config.load()
    scope: Scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 51000),
        "headers": list(FORWARDED),
        "path": "/",
        "method": "GET",
    }
    await config.loaded_app(scope, None, None)
    (inner,) = seen
    return inner


async def test_a_trusted_proxy_gives_the_real_client_address_and_scheme() -> None:
    scope = await seen_by_the_app(Settings(), "127.0.0.1")
    assert scope["client"][0] == "203.0.113.7" and scope["scheme"] == "https"


async def test_anyone_else_cannot_forge_the_client_address() -> None:
    scope = await seen_by_the_app(Settings(), "198.51.100.9")
    assert scope["client"][0] == "198.51.100.9" and scope["scheme"] == "http"


async def test_networks_and_none() -> None:
    proxies = Settings(forwarded_allow_ips="10.0.0.0/8, 192.168.1.10")
    assert (await seen_by_the_app(proxies, "10.1.2.3"))["client"][0] == "203.0.113.7"
    assert (await seen_by_the_app(proxies, "127.0.0.1"))["client"][0] == "127.0.0.1"
    nobody = Settings(forwarded_allow_ips="")
    assert uvicorn_options(nobody)["proxy_headers"] is False
    assert (await seen_by_the_app(nobody, "127.0.0.1"))["client"][0] == "127.0.0.1"


def test_a_typo_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(forwarded_allow_ips="10.0.0.0/8, proxy.internal")
