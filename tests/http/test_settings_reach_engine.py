"""Every engine setting in Settings reaches the engine's ServerConfig."""

from __future__ import annotations

import dataclasses

from mintage.core.server import ServerConfig
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
        password_threads=3,
        password_queue=7,
        audit=False,
    )
    defaults = ServerConfig(issuer="x")
    # Every field but the issuer and the realm differs from its default, so none of
    # them was silently left at its default by server_config().  The engine's switches
    # of the authorization code grant (with its pages), the password grant and UserInfo
    # have no setting yet: the feature switches of the settings will feed them.
    engine_only = ("issuer", "realm", "authorization_code", "password_grant", "userinfo")
    for field in dataclasses.fields(ServerConfig):
        if field.name not in engine_only:
            assert getattr(config, field.name) != getattr(defaults, field.name), field.name
