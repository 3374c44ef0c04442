"""``mintage user …``: users who sign in (authorization code, RFC 6749 §4.1; password
grant, §4.3), and the consents they gave to clients."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import click

from ..core.audit import Auditor
from ..core.clock import system_clock
from ..core.consent import ConsentService
from ..core.credentials import new_id
from ..core.models import Consent, User
from ..core.oidc.claims import SETTABLE_CLAIMS
from ..core.passwords import hash_password
from ..core.storage import Storage
from .context import (
    BadInputError,
    CommandError,
    cli_origin,
    database_url_option,
    echo_json,
    json_option,
    load_settings,
    with_store,
)


def _read_password(from_stdin: bool) -> str:
    if not from_stdin:
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    # One line, as `echo "$PASSWORD" | mintage user create …` sends it.
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


@click.group("user")
def user_group() -> None:
    """Manage users who sign in with a password."""


@user_group.command("create")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@json_option
@database_url_option
@click.pass_context
def create(ctx: click.Context, username: str, password_stdin: bool, as_json: bool) -> None:
    """Create a user; the password is asked twice (hidden) unless --password-stdin."""
    if not username.strip() or username != username.strip():
        raise BadInputError("a username must not be empty or start or end with spaces")
    settings = load_settings(ctx)
    password = _read_password(password_stdin)
    if not password:
        raise CommandError("the password must not be empty")

    async def action(store: Storage) -> User:
        if await store.get_user_by_username(username) is not None:
            raise CommandError(f"user {username} already exists")
        # Argon2id: ~tens of ms, fine here; done only once the username is known free.
        user = User(
            user_id=new_id(),
            username=username,
            password_hash=hash_password(password),
            created_at=system_clock(),
        )
        try:
            await store.save_user(user)
        except ValueError:  # created by someone else meanwhile
            raise CommandError(f"user {username} already exists") from None
        return user

    user = with_store(settings, action)
    if as_json:
        echo_json({"user_id": user.user_id, "username": user.username})
    else:
        click.echo(f"created user {user.username} (id {user.user_id})")


def _consents(store: Storage) -> ConsentService:
    return ConsentService(store, store, system_clock, Auditor(store, system_clock))


async def _user(store: Storage, username: str) -> User:
    user = await store.get_user_by_username(username)
    if user is None:
        raise CommandError(f"no user {username}")
    return user


def consent_record(consent: Consent) -> dict[str, Any]:
    return {
        "client_id": consent.client_id,
        "scopes": list(consent.scopes),
        "granted_at": consent.granted_at,
    }


@user_group.command("consents")
@click.argument("username")
@json_option
@database_url_option
@click.pass_context
def consents(ctx: click.Context, username: str, as_json: bool) -> None:
    """List the clients USERNAME has approved, and for which scopes."""

    async def action(store: Storage) -> list[Consent]:
        service = _consents(store)
        return await service.list((await _user(store, username)).user_id)

    found = with_store(load_settings(ctx), action)
    if as_json:
        echo_json([consent_record(c) for c in found])
        return
    if not found:
        click.echo(f"{username} has approved no client")
        return
    for consent in found:
        click.echo(f"{consent.client_id}  scopes: {' '.join(consent.scopes) or '-'}")


@user_group.command("revoke-consent")
@click.argument("username")
@click.argument("client_id")
@json_option
@database_url_option
@click.pass_context
def revoke_consent(ctx: click.Context, username: str, client_id: str, as_json: bool) -> None:
    """Withdraw USERNAME's consent to CLIENT_ID and revoke that client's tokens for them.

    The user is asked to consent again the next time the client sends them to sign in.
    """

    async def action(store: Storage) -> int:
        service = _consents(store)
        user = await _user(store, username)
        had_consent = await service.get(user.user_id, client_id) is not None
        revoked = await service.revoke(user.user_id, client_id, origin=cli_origin())
        if not had_consent and not revoked:
            raise CommandError(f"{username} has no consent or token for client {client_id}")
        return revoked

    revoked = with_store(load_settings(ctx), action)
    if as_json:
        echo_json({"username": username, "client_id": client_id, "revoked_tokens": revoked})
    else:
        plural = "" if revoked == 1 else "s"
        click.echo(f"withdrew {username}'s consent to {client_id}; revoked {revoked} token{plural}")


def _claim_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    claims: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BadInputError(f"{pair!r}: give claims as NAME=VALUE")
        if name not in SETTABLE_CLAIMS:
            raise BadInputError(
                f"{name!r} is not a standard claim (OpenID Connect Core §5.1); "
                f"known: {', '.join(sorted(SETTABLE_CLAIMS))}"
            )
        claims[name] = value
    return claims


@user_group.command("set-claims")
@click.argument("username")
@click.argument("claims", nargs=-1, metavar="NAME=VALUE...")
@click.option("--unset", "unset", multiple=True, metavar="NAME", help="Remove a claim; repeatable.")
@json_option
@database_url_option
@click.pass_context
def set_claims(
    ctx: click.Context,
    username: str,
    claims: tuple[str, ...],
    unset: tuple[str, ...],
    as_json: bool,
) -> None:
    """Set the user's standard claims (released by the profile, email, address and
    phone scopes), e.g. `email=alice@example.com email_verified=true name="Alice A"`;
    an empty value removes one."""
    changes = _claim_pairs(claims)
    settings = load_settings(ctx)

    async def action(store: Storage) -> User:
        user = await _user(store, username)
        merged = {**user.claims, **changes}
        for name in (*unset, *(n for n, v in changes.items() if v == "")):
            merged.pop(name, None)
        user = dataclasses.replace(user, claims=merged)
        await store.save_user(user)
        return user

    user = with_store(settings, action)
    if as_json:
        echo_json({"user_id": user.user_id, "username": user.username, "claims": user.claims})
    else:
        for name, value in sorted(user.claims.items()):
            click.echo(f"{name + ':':<24} {value}")
