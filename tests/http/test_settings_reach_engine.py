"""Every engine setting in Settings reaches the engine's ServerConfig, through the one
mapping (``server_config``: each field from the setting of its name)."""

from __future__ import annotations

import dataclasses

import pytest

from mintage.core.server import SETTING, ServerConfig
from mintage.settings import Settings
from mintage.web.app import server_config


def test_every_server_config_field_comes_from_the_settings() -> None:
    settings = Settings(
        database_url="memory://",
        access_token_lifetime=61,
        refresh_token_lifetime=62,
        allow_query_access_token=True,
        revocation_allow_bare_token=True,
        resource_scope="a b",
        allow_plain_pkce=True,
        session_lifetime=600,
        access_token_format="jwt",
        access_token_signing_alg="RS256",
        access_token_audience="https://api.example",
        id_token_lifetime=120,
        key_publish_lead=5,
        refresh_grace_seconds=5,
        audit_token_issued=True,
        password_verify_threads=3,
        password_verify_queue=7,
        audit_enabled=False,
        pages_enabled=False,
        userinfo_enabled=False,
        logout_enabled=False,
        password_grant_enabled=False,
    )
    config = server_config(settings)
    assert config == ServerConfig(
        issuer="http://127.0.0.1:3000",
        access_token_lifetime=61,
        refresh_token_lifetime=62,
        allow_query_access_token=True,
        revocation_allow_bare_token=True,
        resource_scopes=("a", "b"),
        allow_plain_pkce=True,
        session_lifetime=600,
        access_token_format="jwt",
        access_token_signing_alg="RS256",
        access_token_audience="https://api.example",
        id_token_lifetime=120,
        key_publish_lead=5,
        refresh_grace_seconds=5,
        audit_token_issued=True,
        password_verify_threads=3,
        password_verify_queue=7,
        pages_enabled=False,
        userinfo_enabled=False,
        logout_enabled=False,
        password_grant_enabled=False,
        audit_enabled=False,
    )
    defaults = ServerConfig(issuer="x")
    # Every field but the issuer and the realm differs from its default, so none of
    # them was silently left at its default by server_config().
    engine_only = ("issuer", "realm")
    for field in dataclasses.fields(ServerConfig):
        if field.name not in engine_only:
            assert getattr(config, field.name) != getattr(defaults, field.name), field.name


@pytest.mark.parametrize("field", dataclasses.fields(ServerConfig), ids=lambda f: f.name)
def test_each_config_field_names_a_setting(field: dataclasses.Field[object]) -> None:
    """A field added to ServerConfig without a setting of its name (or a ``setting``
    metadata naming one) fails here, not silently at its default."""
    name = field.metadata.get(SETTING, field.name)
    if name is None:
        assert field.name == "realm"  # the one engine value that is no setting
        return
    assert name in Settings.model_fields or isinstance(getattr(Settings, name, None), property)


def test_a_config_field_without_a_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mapping reads the setting of the field's name: a field with none fails loudly."""

    @dataclasses.dataclass(frozen=True)
    class Extended(ServerConfig):  # type: ignore[misc]
        not_a_setting: int = 1

    monkeypatch.setattr("mintage.web.app.ServerConfig", Extended)
    with pytest.raises(AttributeError, match="not_a_setting"):
        server_config(Settings(database_url="memory://"))
