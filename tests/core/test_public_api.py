"""The package's public API and its dependency direction (docs/architecture.md §1, §7)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import mintage

EXPECTED = {
    "AuditEvent",
    "AuditEventType",
    "AuditStore",
    "AuthorizationCode",
    "Consent",
    "Session",
    "AuthorizationCodeStore",
    "ConsentStore",
    "SessionStore",
    "LoginAttemptStore",
    "LoginFailures",
    "SubjectTokenStore",
    "AuthorizationServer",
    "Client",
    "ClientStore",
    "MemoryStorage",
    "OAuthError",
    "ServerConfig",
    "Settings",
    "Storage",
    "StorageUnavailableError",
    "Token",
    "TokenKind",
    "TokenStore",
    "User",
    "UserStore",
    "KeyStore",
    "SigningKey",
    "Stores",
    "StoreConfigurationError",
    "UserSource",
    "StoreUserSource",
    "__version__",
    "create_app",
    "mount",
    "Grant",
    "GrantContext",
    "GrantRequest",
    "GrantRegistry",
    "hash_password",
    "open_storage",
    "register_client",
    "rotate_secret",
}


def test_all_is_the_curated_list() -> None:
    assert set(mintage.__all__) == EXPECTED
    assert len(mintage.__all__) == len(EXPECTED)  # no repeats
    assert dir(mintage) == mintage.__all__


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(mintage, name)
    assert value is not None
    if name != "__version__":
        # the lazy loader hands out the real object, not a copy or a stub
        assert getattr(value, "__name__", name) == name


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = mintage.NoSuchThing  # type: ignore[attr-defined]


FORBIDDEN = (
    *("starlette", "sqlalchemy", "asyncpg", "httpx", "alembic", "uvicorn", "jinja2"),
    # rate limits: core owns the protocol, mintage.ratelimits the counting
    *("limits", "redis"),
    # observability libraries: core reports through mintage.core.observe and stdlib logging
    *("prometheus_client", "structlog", "opentelemetry"),
)


@pytest.mark.e2e  # a child interpreter: e2e, not in `make quick`
def test_core_imports_no_web_framework_or_database_library() -> None:
    """Import all of ``mintage.core`` in a fresh interpreter and inspect ``sys.modules``."""
    script = textwrap.dedent(
        f"""
        import importlib, json, pkgutil, sys
        import mintage
        import mintage.core
        imported = []
        for info in pkgutil.walk_packages(mintage.core.__path__, "mintage.core."):
            importlib.import_module(info.name)
            imported.append(info.name)
        assert "mintage.core.server" in imported, imported
        assert "mintage.core.grants.refresh_token" in imported, imported
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({FORBIDDEN!r}))
        print(json.dumps({{"loaded": loaded, "imported": imported}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"] == [], f"mintage.core loaded {report['loaded']}"
    assert len(report["imported"]) >= 15


@pytest.mark.e2e  # a child interpreter: e2e, not in `make quick`
def test_the_boundary_check_can_fail() -> None:
    """The same probe notices a framework when one is imported (the test is not vacuous)."""
    script = "import sys, mintage.web; print('starlette' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "True"
