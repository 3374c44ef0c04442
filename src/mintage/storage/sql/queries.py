"""SQL statements shared by the SQLite and PostgreSQL stores.

Written once, with PostgreSQL's ``$n`` parameters; :data:`SQLITE` is the same set with
``?n``, the numbered form SQLite accepts, so both stores run the very same SQL text.
The column lists match the field order of the records (see :mod:`.rows`).

Only portable SQL is used: ``INSERT … ON CONFLICT … DO UPDATE`` (SQLite ≥ 3.24) and
``UPDATE … RETURNING`` (SQLite ≥ 3.35).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "CONSUME_TOKEN_AUDITED",
    "POSTGRES",
    "SQLITE",
    "Statements",
    "get_login_failures",
    "list_audit_events",
    "save_tokens_audited",
    "to_sqlite",
]


@dataclass(frozen=True, slots=True)
class Statements:
    """One attribute per statement; each store picks its dialect's instance."""

    ping: str = "SELECT 1"

    # clients (RFC 6749 §2)
    get_client: str = (
        "SELECT client_id, name, grant_types, scopes, redirect_uris, secret_digest,"
        " access_token_lifetime, refresh_token_lifetime, created_at, require_pkce,"
        " access_token_format, post_logout_redirect_uris, resources"
        " FROM clients WHERE client_id = $1"
    )
    list_clients: str = (
        "SELECT client_id, name, grant_types, scopes, redirect_uris, secret_digest,"
        " access_token_lifetime, refresh_token_lifetime, created_at, require_pkce,"
        " access_token_format, post_logout_redirect_uris, resources"
        " FROM clients ORDER BY created_at, client_id"
    )
    save_client: str = (
        "INSERT INTO clients (client_id, name, grant_types, scopes, redirect_uris,"
        " secret_digest, access_token_lifetime, refresh_token_lifetime, created_at,"
        " require_pkce, access_token_format, post_logout_redirect_uris, resources)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (client_id) DO UPDATE SET name = excluded.name,"
        " grant_types = excluded.grant_types, scopes = excluded.scopes,"
        " redirect_uris = excluded.redirect_uris, secret_digest = excluded.secret_digest,"
        " access_token_lifetime = excluded.access_token_lifetime,"
        " refresh_token_lifetime = excluded.refresh_token_lifetime,"
        " created_at = excluded.created_at, require_pkce = excluded.require_pkce,"
        " access_token_format = excluded.access_token_format,"
        " post_logout_redirect_uris = excluded.post_logout_redirect_uris,"
        " resources = excluded.resources"
    )
    delete_client_tokens: str = "DELETE FROM tokens WHERE client_id = $1"
    delete_client_codes: str = "DELETE FROM authorization_codes WHERE client_id = $1"
    delete_client_consents: str = "DELETE FROM consents WHERE client_id = $1"
    delete_client: str = "DELETE FROM clients WHERE client_id = $1"

    # tokens
    save_token: str = (
        "INSERT INTO tokens (digest, kind, client_id, scope, issued_at, expires_at,"
        " family_id, subject, revoked_at, consumed_at, auth_time, successor)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    get_token: str = (
        "SELECT digest, kind, client_id, scope, issued_at, expires_at, family_id, subject,"
        " revoked_at, consumed_at, auth_time, successor FROM tokens WHERE digest = $1"
    )
    # RFC 9700 §4.14 / docs/architecture.md §4: the check and the mark are one statement, so of any
    # number of concurrent redemptions exactly one sees its row updated, and the sealed
    # successor (refresh grace window; NULL when off) is the winner's.  RETURNING gives
    # the row as it was before (consumed_at and successor were NULL, or the row would
    # not match).
    consume_token: str = (
        "UPDATE tokens SET consumed_at = $2, successor = $3 WHERE digest = $1"
        " AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2"
        " RETURNING digest, kind, client_id, scope, issued_at, expires_at, family_id,"
        " subject, revoked_at, CAST(NULL AS BIGINT), auth_time, CAST(NULL AS TEXT)"
    )
    revoke_token: str = "UPDATE tokens SET revoked_at = $2 WHERE digest = $1 AND revoked_at IS NULL"
    # RFC 7009 §2.1, RFC 9700 §4.14.2: reuse of a rotated refresh token kills the family.
    revoke_family: str = (
        "UPDATE tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL"
    )
    # consent withdrawn: ix_tokens_client_id_subject keeps it to that subject's rows
    revoke_for_subject: str = (
        "UPDATE tokens SET revoked_at = $3 WHERE client_id = $1 AND subject = $2"
        " AND revoked_at IS NULL"
    )
    # Small batches keep each write transaction (and SQLite's write lock) short.
    purge_expired: str = (
        "DELETE FROM tokens WHERE digest IN"
        " (SELECT digest FROM tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)"
    )
    purge_expired_codes: str = (
        "DELETE FROM authorization_codes WHERE digest IN"
        " (SELECT digest FROM authorization_codes WHERE expires_at < $1"
        " ORDER BY expires_at LIMIT $2)"
    )
    purge_expired_sessions: str = (
        "DELETE FROM sessions WHERE digest IN"
        " (SELECT digest FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)"
    )

    # authorization codes (RFC 6749 §4.1.2)
    save_code: str = (
        "INSERT INTO authorization_codes (digest, client_id, redirect_uri, scope, subject,"
        " issued_at, expires_at, family_id, auth_time, code_challenge,"
        " code_challenge_method, nonce, consumed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    )
    get_code: str = (
        "SELECT digest, client_id, redirect_uri, scope, subject, issued_at, expires_at,"
        " family_id, auth_time, code_challenge, code_challenge_method, nonce, consumed_at"
        " FROM authorization_codes WHERE digest = $1"
    )
    # Single use, as consume_token: the check and the mark are one statement.
    consume_code: str = (
        "UPDATE authorization_codes SET consumed_at = $2"
        " WHERE digest = $1 AND consumed_at IS NULL AND expires_at > $2"
        " RETURNING digest, client_id, redirect_uri, scope, subject, issued_at, expires_at,"
        " family_id, auth_time, code_challenge, code_challenge_method, nonce,"
        " CAST(NULL AS BIGINT)"
    )

    # consents
    get_consent: str = (
        "SELECT user_id, client_id, scopes, granted_at FROM consents"
        " WHERE user_id = $1 AND client_id = $2"
    )
    list_consents: str = (
        "SELECT user_id, client_id, scopes, granted_at FROM consents"
        " WHERE user_id = $1 ORDER BY client_id"
    )
    save_consent: str = (
        "INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes,"
        " granted_at = excluded.granted_at"
    )
    delete_consent: str = "DELETE FROM consents WHERE user_id = $1 AND client_id = $2"

    # browser sessions
    save_session: str = (
        "INSERT INTO sessions (digest, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id,"
        " auth_time = excluded.auth_time, expires_at = excluded.expires_at"
    )
    get_session: str = (
        "SELECT digest, user_id, auth_time, expires_at FROM sessions WHERE digest = $1"
    )
    delete_session: str = "DELETE FROM sessions WHERE digest = $1"

    # sign-in lock-out (RFC 6749 §10.10): the count is one statement, so concurrent
    # failures are all counted; a row that expired starts a new window (every SET
    # expression sees the row as it was).
    note_login_failure: str = (
        "INSERT INTO login_failures (key, failures, locked_until, expires_at)"
        " VALUES ($1, 1, NULL, $3) ON CONFLICT (key) DO UPDATE SET"
        " failures = CASE WHEN login_failures.expires_at <= $2 THEN 1"
        " ELSE login_failures.failures + 1 END,"
        " locked_until = CASE WHEN login_failures.expires_at <= $2 THEN NULL"
        " ELSE login_failures.locked_until END,"
        " expires_at = CASE WHEN login_failures.expires_at <= $2 THEN excluded.expires_at"
        " ELSE login_failures.expires_at END"
        " RETURNING failures"
    )
    lock_login: str = (
        "UPDATE login_failures SET locked_until = $2,"
        " expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END WHERE key = $1"
    )
    clear_login_failures: str = "DELETE FROM login_failures WHERE key = $1"
    purge_expired_login_failures: str = (
        "DELETE FROM login_failures WHERE key IN"
        " (SELECT key FROM login_failures WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)"
    )

    # users (RFC 6749 §1.1 resource owners); users.failed_logins and users.locked_until
    # (migration 0002) are no longer read or written: login_failures replaced them.
    get_user: str = (
        "SELECT user_id, username, password_hash, created_at, claims FROM users WHERE user_id = $1"
    )
    get_user_by_username: str = (
        "SELECT user_id, username, password_hash, created_at, claims FROM users WHERE username = $1"
    )
    # A username held by another user violates ux_users_username: the store turns that
    # into ValueError.
    save_user: str = (
        "INSERT INTO users (user_id, username, password_hash, created_at, claims)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (user_id) DO UPDATE SET username = excluded.username,"
        " password_hash = excluded.password_hash, created_at = excluded.created_at,"
        " claims = excluded.claims"
    )

    # signing keys (RFC 7517)
    list_signing_keys: str = (
        "SELECT kid, alg, public_jwk, private_jwk_sealed, created_at, not_before,"
        " retired_at, publish_until FROM signing_keys ORDER BY created_at, kid"
    )
    save_signing_key: str = (
        "INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at,"
        " not_before, retired_at, publish_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg,"
        " public_jwk = excluded.public_jwk, private_jwk_sealed = excluded.private_jwk_sealed,"
        " created_at = excluded.created_at, not_before = excluded.not_before,"
        " retired_at = excluded.retired_at, publish_until = excluded.publish_until"
    )
    delete_signing_key: str = "DELETE FROM signing_keys WHERE kid = $1"

    # audit events: appended, listed, purged by age (ix_audit_events_at)
    record_audit_event: str = (
        "INSERT INTO audit_events (at, event, client_id, subject, ip, request_id, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    purge_audit_events: str = (
        "DELETE FROM audit_events WHERE id IN"
        " (SELECT id FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)"
    )

    def translated(self) -> Statements:
        """The same statements with ``?n`` parameters (SQLite)."""
        return Statements(**{f.name: to_sqlite(getattr(self, f.name)) for f in fields(self)})


_DOLLAR_PARAM = re.compile(r"\$(\d+)")


def to_sqlite(sql: str) -> str:
    """``$1`` → ``?1``: SQLite's numbered parameters bind the same positional tuple."""
    return _DOLLAR_PARAM.sub(r"?\1", sql)


POSTGRES = Statements()
SQLITE = POSTGRES.translated()


@functools.cache
def get_login_failures(count: int) -> str:
    """The unexpired ``login_failures`` rows of ``count`` keys, in PostgreSQL's ``$n``
    form (:func:`to_sqlite` for SQLite).  Parameters: ``now``, then the keys."""
    # Only numbered placeholders are put into the text; every value is a parameter.
    keys = ", ".join(f"${i + 2}" for i in range(count))
    return "".join(
        (
            "SELECT key, failures, expires_at, locked_until FROM login_failures",
            " WHERE expires_at > $1 AND key IN (",
            keys,
            ")",
        )
    )


_LIST_AUDIT_EVENTS = (
    "SELECT id, at, event, client_id, subject, ip, request_id, detail FROM audit_events"
)


def list_audit_events(
    *,
    events: Collection[str] | None,
    client_id: str | None,
    subject: str | None,
    since: int | None,
    until: int | None,
    limit: int,
) -> tuple[str, tuple[Any, ...]]:
    """``SELECT`` of the audit events matching the given filters, newest first, in
    PostgreSQL's ``$n`` form (:func:`to_sqlite` for SQLite), and its parameters.

    Only fixed fragments are joined; every value is a parameter.  The ``event`` and
    ``client_id`` filters are served by the ``(event, at)`` and ``(client_id, at)``
    indexes, the others by ``at``.
    """
    where: list[str] = []
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if events is not None:
        names = sorted(set(events))
        if not names:
            where.append("1 = 0")
        else:
            where.append(f"event IN ({', '.join(param(name) for name in names)})")
    if client_id is not None:
        where.append(f"client_id = {param(client_id)}")
    if subject is not None:
        where.append(f"subject = {param(subject)}")
    if since is not None:
        where.append(f"at >= {param(since)}")
    if until is not None:
        where.append(f"at < {param(until)}")
    sql = _LIST_AUDIT_EVENTS
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY at DESC, id DESC LIMIT {param(max(limit, 0))}"
    return sql, tuple(params)


# The fast paths below are built from the statements above, so that a column added to
# ``tokens`` (and so to save_token and consume_token) cannot be forgotten here.
_TOKEN_INSERT_COLUMNS = POSTGRES.save_token.split("(", 1)[1].split(")", 1)[0]
_TOKEN_PARAMS = _TOKEN_INSERT_COLUMNS.count(",") + 1  # the parameters of save_token
_AUDIT_PARAMS = 7  # the parameters of Statements.record_audit_event
_AUDIT_INSERT = "INSERT INTO audit_events (at, event, client_id, subject, ip, request_id, detail)"


@functools.cache
def save_tokens_audited(count: int) -> str:
    """PostgreSQL: ``count`` tokens and one audit event in one statement, so one round
    trip and one transaction (a data-modifying ``WITH``).  Parameters: the event's
    (as ``record_audit_event``), then each token's (as ``save_token``)."""
    event = ", ".join(f"${i + 1}" for i in range(_AUDIT_PARAMS))
    rows = ", ".join(
        "("
        + ", ".join(f"${_AUDIT_PARAMS + n * _TOKEN_PARAMS + i + 1}" for i in range(_TOKEN_PARAMS))
        + ")"
        for n in range(count)
    )
    # Only numbered placeholders are put into the text; every value is a parameter.
    return "".join(
        (
            "WITH audit AS (",
            _AUDIT_INSERT,
            " VALUES (",
            event,
            ")) INSERT INTO tokens (",
            _TOKEN_INSERT_COLUMNS,
            ") VALUES ",
            rows,
        )
    )


_CONSUME_PARAMS = max(int(n) for n in _DOLLAR_PARAM.findall(POSTGRES.consume_token))

#: PostgreSQL's fast path for ``token.refreshed``: ``consume_token`` (its parameters
#: first), and the audit event (the parameters after them, as ``record_audit_event``)
#: only if the token was consumed, in one statement.  (SQLite runs the two statements
#: in one queued write instead.)
CONSUME_TOKEN_AUDITED = "".join(
    (
        "WITH consumed AS (",
        POSTGRES.consume_token,
        "), audit AS (",
        _AUDIT_INSERT,
        " SELECT ",
        ", ".join(f"${_CONSUME_PARAMS + i + 1}" for i in range(_AUDIT_PARAMS)),
        " WHERE EXISTS (SELECT 1 FROM consumed)) SELECT * FROM consumed",
    )
)
