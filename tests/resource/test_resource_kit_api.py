"""mintage.resource's public names and its import boundary (docs/architecture.md §1)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import mintage.resource
from mintage.resource.errors import (
    InsufficientScopeError,
    InvalidTokenError,
    MissingTokenError,
    challenge,
    error_body,
    error_headers,
    safe_realm,
)

EXPECTED = {
    "STATE_KEY",
    "AccessToken",
    "BearerAuthMiddleware",
    "CombinedVerifier",
    "Discovery",
    "DiscoveryError",
    "EngineVerifier",
    "InsufficientScopeError",
    "IntrospectionVerifier",
    "InvalidRequestError",
    "InvalidTokenError",
    "JWTVerifier",
    "MissingTokenError",
    "OAuthError",
    "ServerError",
    "ServerMetadata",
    "TemporarilyUnavailableError",
    "TokenVerifier",
    "bearer_token",
    "verifier_for_app",
    "verifier_for_issuer",
}


def test_all_is_the_curated_list() -> None:
    assert set(mintage.resource.__all__) == EXPECTED
    assert len(mintage.resource.__all__) == len(EXPECTED)
    assert dir(mintage.resource) == sorted(mintage.resource.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(mintage.resource, name)
    if name != "STATE_KEY":
        assert value.__name__ == name
    with pytest.raises(AttributeError):
        _ = mintage.resource.NoSuchThing  # type: ignore[attr-defined]


def probe(statements: str) -> dict[str, list[str]]:
    """Run ``statements`` in a fresh interpreter; report what got loaded."""
    script = textwrap.dedent(
        """
        import json, sys
        {statements}
        roots = {{m.split(".")[0] for m in sys.modules}}
        heavy = sorted(roots & {{"httpx", "joserfc", "starlette", "fastapi", "cryptography"}})
        inner = sorted(
            m for m in sys.modules
            if m.startswith(("mintage.web", "mintage.storage", "mintage.settings", "mintage.cli"))
        )
        print(json.dumps({{"heavy": heavy, "inner": inner}}))
        """
    ).format(statements=textwrap.dedent(statements))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, list[str]] = json.loads(result.stdout)
    return report


@pytest.mark.e2e  # a child interpreter: e2e, not in `make quick`
def test_importing_the_package_is_light() -> None:
    assert probe("import mintage.resource") == {"heavy": [], "inner": []}


@pytest.mark.e2e  # a child interpreter: e2e, not in `make quick`
def test_no_module_but_fastapi_loads_a_web_framework() -> None:
    report = probe(
        """
        import importlib, pkgutil, mintage.resource
        for info in pkgutil.iter_modules(mintage.resource.__path__, "mintage.resource."):
            if info.name != "mintage.resource.fastapi":
                importlib.import_module(info.name)
        import mintage.resource.middleware
        assert "mintage.resource.jwt" in sys.modules
        """
    )
    assert report["heavy"] == ["cryptography", "httpx", "joserfc"]
    assert report["inner"] == []  # resource/ stands on core alone


@pytest.mark.e2e  # a child interpreter: e2e, not in `make quick`
def test_the_probe_can_fail() -> None:
    assert probe("import mintage.resource.fastapi")["heavy"] == ["fastapi", "starlette"]


def test_challenges() -> None:
    """RFC 6750 §3: realm always; error, description and (403) scope when known."""
    assert challenge("api", MissingTokenError()) == 'Bearer realm="api"'
    assert error_body(MissingTokenError()) == b"{}"
    assert challenge("api", InvalidTokenError("expired")) == (
        'Bearer realm="api", error="invalid_token", error_description="expired"'
    )
    assert challenge("api", InsufficientScopeError(["read", "write"])) == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="the access token lacks the required scope", scope="read write"'
    )
    # a realm cannot break out of its quotes; descriptions keep RFC 6749 §5.2's charset
    assert safe_realm('a"b\\c') == "a?b?c"
    assert 'error_description="say ?hi?"' in challenge("api", InvalidTokenError('say "hi"'))
    assert error_headers(InvalidTokenError(), "api")["cache-control"] == "no-store"
