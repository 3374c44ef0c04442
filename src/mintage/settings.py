"""Server settings: one immutable, validated object (docs/architecture.md §3).

Loaded from ``MINTAGE_…`` environment variables and, when ``MINTAGE_CONFIG`` names one,
a TOML file (environment wins).  ``docs/configuration.md`` is generated from this class
(``python -m mintage.settings``); a test fails when it is stale.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .core.ratelimit import LIMIT_NAMES

DEFAULT_PORT = 3000  # the origin server's port
#: settings renamed, by old name: still read under it, with a warning
_RENAMED = {"failed_auth_rate_limit_per_client": "failed_auth_rate_limit_per_ip_client"}
_RENAMED_WHY = {
    "failed_auth_rate_limit_per_client": "failed authentications are counted per address "
    "and client id, so no one can lock a client out without its secret; "
    "docs/operations.md",
}
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _limit(default: str, what: str) -> Any:
    """A rate limit in the notation of the `limits` library; empty: no limit."""
    return Field(
        default,
        description=f"Rate limit on {what}: `N/second`, `N/minute`, `N per 5 minutes`…; "
        "empty: none.",
    )


class Settings(BaseSettings):
    """Every setting of a Mintage server, with its secure default."""

    model_config = SettingsConfigDict(env_prefix="MINTAGE_", frozen=True, extra="forbid")

    issuer: str | None = Field(
        None,
        description="Issuer URL (RFC 8414 §2). Defaults to http://127.0.0.1:<port>. "
        "Must be https except on loopback (127.0.0.0/8, [::1], localhost).",
    )
    allow_insecure_issuer: bool = Field(
        False,
        description="Development only: accept a plain http issuer on a host other than "
        "loopback. Tokens and passwords then cross the network in clear, and the "
        "sign-in cookies lose `Secure` and their `__Host-` prefix.",
    )
    host: str = Field("127.0.0.1", description="Address `mintage serve` listens on.")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Port `mintage serve` listens on.")
    database_url: str = Field(
        "sqlite:///mintage.db",
        description="Store: `sqlite:///path.db` (default, durable), "
        "`postgresql://user@host/db`, or `memory://` (tests only: nothing persists).",
    )
    secret_key: str | None = Field(
        None,
        description="Server secret (≥ 32 characters) that keys client-secret digests. "
        "When unset with SQLite, a random key is created once in `<database>.key` "
        "(mode 0600); it is required with PostgreSQL so every instance shares it.",
    )
    secret_key_file: Path | None = Field(
        None, description="File holding the server secret (instead of `secret_key`)."
    )
    access_token_lifetime: int = Field(
        3600, ge=1, description="Access token lifetime in seconds (the origin's 3600)."
    )
    refresh_token_lifetime: int = Field(
        14 * 24 * 3600, ge=1, description="Refresh token lifetime in seconds (14 days)."
    )
    refresh_grace_seconds: int = Field(
        0,
        ge=0,
        le=60,
        description="Seconds after a refresh token rotation in which a retry with the "
        "old token, by the same client for the same scope, gets the same new pair again "
        "instead of revoking the family as reuse (0: off). For clients that lose "
        "responses; see docs/operations.md for the trade-off.",
    )
    allow_query_access_token: bool = Field(
        False,
        description="Accept `?access_token=` at protected resources (RFC 6750 §2.3). "
        "Off by default as OAuth 2.1 advises: URLs end up in logs and Referer headers.",
    )
    revocation_allow_bare_token: bool = Field(
        False,
        description="Let a request with only `token=…` and no client credentials revoke "
        "that token (the origin's behaviour). Anyone holding a token can then revoke it; "
        "see the README for the trade-off.",
    )
    resource_scope: str | None = Field(
        None,
        description="Scope(s) that `GET /resource` requires (space-separated); "
        "unset means any valid access token.",
    )
    allow_plain_pkce: bool = Field(
        False,
        description="Accept `code_challenge_method=plain` (RFC 7636 §4.2). Off by default: "
        "OAuth 2.1 and RFC 9700 §2.1.1 require S256, which keeps the verifier secret "
        "even if the authorization request leaks.",
    )
    session_lifetime: int = Field(
        8 * 3600,
        ge=60,
        description="Seconds a browser stays signed in after logging in (8 hours).",
    )
    access_token_format: Literal["opaque", "jwt"] = Field(
        "opaque",
        description="Access tokens of clients registered without a format: `opaque` "
        "(random, checked by introspection) or `jwt` (RFC 9068, verifiable offline "
        "with the JWKS). Per client: `mintage client create --access-token-format`.",
    )
    access_token_signing_alg: Literal["RS256", "ES256", "EdDSA"] = Field(
        "ES256",
        description="JWS algorithm of JWT access tokens. ES256 signs several times "
        "faster than RS256; ID tokens always use RS256 (OpenID Connect Core §15.1).",
    )
    access_token_audience: str | None = Field(
        None,
        description="Audience of access tokens: `aud` of JWT access tokens (RFC 9068 §3) "
        "and of introspection answers; defaults to `<issuer>/resource`. Resource servers "
        "check it, and a client registered with it as a `--resource` may introspect them.",
    )
    id_token_lifetime: int = Field(
        3600, ge=60, description="ID token lifetime in seconds (OpenID Connect Core §2)."
    )
    pages_enabled: bool = Field(
        True,
        description="Serve the authorization endpoint (`/oauth/authorize`) with its sign-in "
        "and consent pages, hence the `authorization_code` grant. Off: a token-only "
        "server (client credentials, refresh, password grant) that serves no HTML at all.",
    )
    userinfo_enabled: bool = Field(
        True, description="Serve UserInfo at `/userinfo` (OpenID Connect Core §5.3)."
    )
    logout_enabled: bool = Field(
        True,
        description="Serve RP-Initiated Logout at `/oauth/logout` (a page: needs `pages_enabled`).",
    )
    password_grant_enabled: bool = Field(
        True,
        description="Serve the password grant (RFC 6749 §4.3) to the clients registered "
        "with it. RFC 9700 §2.4 says it MUST NOT be used; keep it for migrations only.",
    )
    key_encryption_key: str | None = Field(
        None,
        description="Key (≥ 32 characters) that seals signing keys at rest. Unset: a "
        "key derived from the server secret. Keep it outside the database and its "
        "backups (docs/operations.md).",
    )
    key_encryption_key_file: Path | None = Field(
        None, description="File holding the key-encryption key (instead of the variable)."
    )
    key_publish_lead: int = Field(
        600,
        ge=0,
        description="Seconds a rotated-in signing key is published in JWKS before it "
        "signs anything, so relying parties that cache JWKS know it first.",
    )
    key_rotation_days: int = Field(
        0,
        ge=0,
        description="Rotate signing keys automatically when the newest is this many "
        "days old (0: only by `mintage keys rotate`).",
    )
    cors_origins: str = Field(
        "",
        description="Origins (`https://app.example`, space- or comma-separated; `*` for "
        "any) of browser-based clients that may call the token, revocation and UserInfo "
        "endpoints from JavaScript (CORS). Discovery and JWKS are open to every origin.",
    )
    templates_dir: Path | None = Field(
        None,
        description="Directory of page templates that replace the built-in ones of the "
        "same name (`login.html`, `base.html`...), and of an optional `theme.css` served "
        "after the built-in stylesheet; see docs/pages.md.",
    )
    max_body_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest accepted request body; larger answers 413."
    )
    purge_interval: int = Field(
        300,
        ge=0,
        description=(
            "Seconds between background purges of expired tokens, codes and sessions (0: off)."
        ),
    )
    purge_batch_size: int = Field(
        1000, ge=1, description="Rows deleted per purge statement (small batches keep locks short)."
    )
    audit_token_issued: bool = Field(
        False,
        description="Also record a `token.issued` or `token.refreshed` audit event for every "
        "token the token endpoint hands out. Off by default: it is one more row per token "
        "request, on the hot path (measured cost and sizing in docs/operations.md). The "
        "other audit events are rare and always recorded.",
    )
    audit_enabled: bool = Field(
        True,
        description="Record audit events (`mintage audit`). Off, no event is kept and a "
        "custom store need not implement `AuditStore` (docs/storage.md).",
    )
    audit_retention_days: int = Field(
        90,
        ge=0,
        description="Days audit events are kept; older ones are deleted by the background "
        "purge (0: keep them forever).",
    )
    create_demo_client: bool = Field(
        True,
        description="On a brand-new database, `mintage serve` creates one demo client "
        "(client_credentials, scope `read`) and prints its credentials once.",
    )
    rate_limits_enabled: bool = Field(
        True,
        description="Answer 429 with `Retry-After` past the limits below "
        "(docs/operations.md, Rate limits).",
    )
    redis_url: str | None = Field(
        None,
        description="Redis (`redis://`, `rediss://` or `unix://`) that holds the rate-limit "
        "counts, shared by every instance; unset: each process counts on its own.",
    )
    redis_key_prefix: str = Field(
        "mintage", min_length=1, description="Prefix of every rate-limit key in Redis."
    )
    token_rate_limit_per_ip: str = _limit("100/second", "`POST /oauth/token` per address")
    token_rate_limit_per_client: str = _limit(
        "50/second",
        "`POST /oauth/token` per client id, counted once the client has authenticated "
        "(a public client: per address and client id)",
    )
    introspection_rate_limit_per_ip: str = _limit(
        "200/second", "`POST /oauth/introspect` per address"
    )
    introspection_rate_limit_per_client: str = _limit(
        "200/second", "`POST /oauth/introspect` per authenticated client id"
    )
    revocation_rate_limit_per_ip: str = _limit("20/second", "`POST /oauth/revoke` per address")
    revocation_rate_limit_per_client: str = _limit(
        "20/second", "`POST /oauth/revoke` per authenticated client id"
    )
    login_rate_limit_per_ip: str = _limit(
        "30/minute",
        "failed sign-ins per address (successful ones are not counted); past it the "
        "address is refused until the window ends",
    )
    login_rate_limit_per_username: str = _limit(
        "10/minute",
        "failed sign-ins per username, from any address (on top of the lock-out)",
    )
    password_verify_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads that verify passwords (Argon2id: tens of ms and 64 MiB each "
        "while running), apart from the default thread pool; 0: one per CPU, at most 8.",
    )
    password_verify_queue: int = Field(
        32,
        ge=0,
        description="Password verifications that may wait for one of those threads; past "
        "it a sign-in answers 503 with `Retry-After` (login page and password grant).",
    )
    failed_auth_rate_limit_per_ip_client: str = _limit(
        "30/minute",
        "failed client authentications per address and client id; past it that client id "
        "is refused from that address until the window ends, even with the right secret "
        "(other addresses are unaffected). Replaces `failed_auth_rate_limit_per_client`, "
        "still read under that name, with a warning",
    )
    failed_auth_rate_limit_per_ip: str = _limit(
        "30/5 minutes",
        "failed client authentications per address; past it the address is refused "
        "until the window ends",
    )
    graceful_shutdown_timeout: int = Field(
        30,
        ge=1,
        description="`mintage serve`: on SIGTERM or Ctrl-C, seconds requests already "
        "running may take to finish before they are cancelled and the store is closed.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1,::1",
        description="`mintage serve`: the reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed (comma-separated addresses or networks such as "
        "`10.0.0.0/8`). Only a connection from one of them gets its client address (logs, "
        "rate limits) from `X-Forwarded-For`; anyone else could forge it. Empty: believe "
        "no one. `*`: believe everyone, only when nothing but the proxy can reach Mintage.",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="Log level: debug, info, warning, error, critical."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto",
        description="Logs of `mintage serve`: `json` (one JSON object per line, with the "
        "request id; for log collectors), `console` (for people; coloured on a terminal "
        "that supports it, never under `NO_COLOR`), or `auto`: `console` when stderr is a "
        "terminal, `json` otherwise.",
    )
    access_log: bool = Field(
        False,
        description="Log one line per request (method, route, status, duration, request id, "
        "client address; never the query string). Off by default: it costs throughput.",
    )
    metrics_enabled: bool = Field(
        True,
        description="Keep Prometheus metrics, served at `GET /metrics` where "
        "`metrics_port` or `metrics_token` allows; with neither, nothing is kept and "
        "`/metrics` answers 404 (it names clients). See docs/operations.md.",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="`mintage serve`: serve `GET /metrics` on a listener of its own, on "
        "this port at `metrics_host`, for Prometheus (every worker of `--workers N` "
        "answers there). Unset: no such listener.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address of the metrics listener (`metrics_port`): loopback by "
        "default; a private address to let Prometheus on another machine scrape it.",
    )
    metrics_token: str | None = Field(
        None,
        repr=False,
        description="Bearer secret (≥ 32 characters) Prometheus presents "
        "(`Authorization: Bearer …`, compared in constant time) to scrape `GET /metrics` "
        "on the main port; when set, the metrics listener demands it too.",
    )
    otel_enabled: bool = Field(
        False,
        description="Trace every request with OpenTelemetry (needs `pip install "
        "'mintage[otel]'`; exporter from the `OTEL_*` variables). Off by default: it "
        "costs more than a token request.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("MINTAGE_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise ValueError(f"MINTAGE_CONFIG names {config_file}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        """A setting under its old name (init, TOML or ``MINTAGE_<OLD>``) is read as the
        new one, with a warning; the new name wins when both are set.  The environment
        source reads only the current names, so the old variable is looked up here."""
        if not isinstance(data, dict):
            return data
        for old, new in _RENAMED.items():
            value = data.pop(old, None)
            if value is None:
                value = os.environ.get(f"MINTAGE_{old.upper()}")
            if value is not None:
                warnings.warn(
                    f"{old} (MINTAGE_{old.upper()}) is deprecated: it is now {new} "
                    f"({_RENAMED_WHY[old]})",
                    UserWarning,
                    stacklevel=2,
                )
                data.setdefault(new, value)
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key is not None and len(self.secret_key) < 32:
            raise ValueError("secret_key must be at least 32 characters")
        if self.key_encryption_key is not None and len(self.key_encryption_key) < 32:
            raise ValueError("key_encryption_key must be at least 32 characters")
        if self.key_encryption_key and self.key_encryption_key_file:
            raise ValueError("set key_encryption_key or key_encryption_key_file, not both")
        if self.secret_key and self.secret_key_file:
            raise ValueError("set secret_key or secret_key_file, not both")
        if self.issuer is not None:
            parts = urlsplit(self.issuer)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise ValueError("issuer must be an absolute http(s) URL")
            if parts.query or parts.fragment:
                raise ValueError("issuer must not have a query or fragment (RFC 8414 §2)")
            if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
                if not self.allow_insecure_issuer:
                    raise ValueError(
                        f"issuer {self.issuer} is plain http on a host other than loopback: "
                        "use https (allow_insecure_issuer=true accepts it, for development "
                        "only)"
                    )
                warnings.warn(
                    f"issuer {self.issuer} is plain http: use https outside development",
                    UserWarning,
                    stacklevel=2,
                )
        if self.allow_query_access_token:
            warnings.warn(
                "allow_query_access_token is on: tokens in URLs leak through logs and "
                "Referer headers (RFC 6750 §2.3, OAuth 2.1)",
                UserWarning,
                stacklevel=2,
            )
        for origin in self.cors_origin_set - {"*"}:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("https", "http")
                or not parts.netloc
                or parts.path
                or parts.query
                or parts.fragment
            ):
                raise ValueError(
                    f"cors_origins: {origin!r} is not an origin (scheme://host[:port])"
                )
        if self.access_token_lifetime > self.refresh_token_lifetime:
            raise ValueError("access_token_lifetime must not exceed refresh_token_lifetime")
        if self.metrics_token is not None and len(self.metrics_token) < 32:
            raise ValueError("metrics_token must be at least 32 characters")
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(f"metrics_port must differ from port ({self.port})")
        if self.metrics_port is not None and not self.metrics_enabled:
            raise ValueError("metrics_port is set but metrics_enabled is false")
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in _REDIS_SCHEMES:
            raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        self._check_rate_limits()
        _check_forwarded_allow_ips(self.forwarded_allow_ips)
        return self

    def _check_rate_limits(self) -> None:
        from limits import parse  # only here: importing settings stays light

        for name in LIMIT_NAMES:
            value = getattr(self, name)
            if value.strip():
                try:
                    parse(value)
                except ValueError:
                    raise ValueError(
                        f"{name} = {value!r} is not a rate limit (`N/second`, "
                        "`N per 5 minutes`…); leave it empty for none"
                    ) from None

    def rate_limits(self) -> dict[str, str]:
        """Every rate limit by name (``mintage.core.ratelimit.LIMIT_NAMES``)."""
        return {name: getattr(self, name) for name in LIMIT_NAMES}

    @property
    def cors_origin_set(self) -> frozenset[str]:
        return frozenset(self.cors_origins.replace(",", " ").split())

    @property
    def issuer_url(self) -> str:
        return (self.issuer or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def metrics_served(self) -> bool:
        """Whether ``/metrics`` is served anywhere, so the metrics are worth keeping."""
        return self.metrics_enabled and (
            self.metrics_port is not None or self.metrics_token is not None
        )

    @property
    def resource_scopes(self) -> tuple[str, ...]:
        return tuple(self.resource_scope.split()) if self.resource_scope else ()


def _is_loopback(hostname: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic that never leaves
    the machine, where plain http exposes nothing (RFC 8252 §8.3 reasons the same way)."""
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_forwarded_allow_ips(value: str) -> None:
    """Every entry an IP address, a network, or ``*``: a typo must not silently
    trust nobody (or, worse, be read as something else by the server)."""
    for item in value.split(","):
        item = item.strip()
        if not item or item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(
                f"forwarded_allow_ips: {item!r} is not an IP address or network"
            ) from None


def render_configuration_docs() -> str:
    """The text of ``docs/configuration.md``."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m mintage.settings`; edit src/mintage/settings.py. -->",
        "",
        "Every setting comes from an environment variable `MINTAGE_<NAME>` or from a TOML",
        "file named by `MINTAGE_CONFIG` (keys are the lower-case names below; the",
        "environment wins). Impossible combinations stop the server at start-up.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default: Any = field.default
        if default is None:
            shown = "unset"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        desc = (field.description or "").replace("|", "\\|")
        lines.append(f"| `MINTAGE_{name.upper()}` | {shown} | {desc} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_configuration_docs(), end="")
