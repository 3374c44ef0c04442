"""``mintage keys list|rotate|retire``: the JWS signing keys (RFC 7517).

Keys are created on first start.  ``rotate`` publishes a new key at once and lets it
sign after ``key_publish_lead`` seconds; the keys it replaces stay published until every
token they signed has expired.  ``retire`` stops a key now (``--unpublish``: also drop
it from JWKS, for a compromised key: the tokens it signed stop verifying).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import click

from ..core.audit import AuditEventType
from ..core.jws_algorithms import SIGNING_ALGS
from ..core.keyring import KeyRingError
from ..core.models import SigningKey
from ..core.sealing import Sealer, SealError, derive_key
from ..core.server import SIGNING_KEY_SEALING, AuthorizationServer
from ..core.storage import Storage
from ..web.app import build_server
from .context import (
    BadInputError,
    cli_origin,
    database_url_option,
    echo_json,
    json_option,
    load_settings,
    pepper_for,
    with_store,
)


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _state(key: SigningKey, now: int) -> str:
    if not key.published_at(now):
        return "unpublished"
    if key.signs_at(now):
        return "signing"
    if key.not_before > now:
        return "published, signs from " + _when(key.not_before)
    return "retired, published until " + _when(key.publish_until)


def key_record(key: SigningKey, now: int) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": _state(key, now).split(",")[0],
        "created_at": key.created_at,
        "not_before": key.not_before,
        "retired_at": key.retired_at,
        "publish_until": key.publish_until,
    }


def _server(ctx: click.Context, store: Storage) -> AuthorizationServer:
    settings = load_settings(ctx)
    return build_server(settings, store, pepper=pepper_for(settings))


@click.group("keys")
def keys_group() -> None:
    """List and rotate the keys that sign JWT access tokens and ID tokens."""


@keys_group.command("list")
@json_option
@database_url_option
@click.pass_context
def list_keys(ctx: click.Context, as_json: bool) -> None:
    """Every signing key, with its state (signing, published, retired)."""
    settings = load_settings(ctx)

    async def action(store: Storage) -> tuple[list[SigningKey], int]:
        ring = _server(ctx, store).keys
        return await ring.keys(), ring.now()

    keys, now = with_store(settings, action)
    if as_json:
        echo_json([key_record(k, now) for k in keys])
        return
    if not keys:
        click.echo("no signing keys yet: they are created when the server first starts")
    for key in keys:
        click.echo(f"{key.kid}  {key.alg:<6} created {_when(key.created_at)}  {_state(key, now)}")


@keys_group.command("rotate")
@click.option(
    "--alg",
    type=click.Choice(SIGNING_ALGS),
    multiple=True,
    help="Algorithm to rotate; repeatable. Default: every algorithm the server signs with.",
)
@json_option
@database_url_option
@click.pass_context
def rotate(ctx: click.Context, alg: tuple[str, ...], as_json: bool) -> None:
    """Publish a new key now; it signs after key_publish_lead seconds."""
    settings = load_settings(ctx)

    async def action(store: Storage) -> tuple[list[SigningKey], int]:
        server = _server(ctx, store)
        ring, publish_for = server.keys, await server.key_publish_window()
        made = [await ring.rotate(a, publish_for=publish_for) for a in (alg or ring.algs)]
        for key in made:
            await server.audit.record(
                AuditEventType.KEY_ROTATED,
                cli_origin(),
                kid=key.kid,
                alg=key.alg,
                not_before=key.not_before,
            )
        return made, ring.now()

    made, now = with_store(settings, action)
    if as_json:
        echo_json([key_record(k, now) for k in made])
        return
    for key in made:
        click.echo(
            f"new {key.alg} key {key.kid}: published now, signs from {_when(key.not_before)}"
        )


@keys_group.command("retire")
@click.argument("kid")
@click.option(
    "--unpublish",
    is_flag=True,
    help="Also remove it from JWKS now (a compromised key): tokens it signed stop verifying.",
)
@json_option
@database_url_option
@click.pass_context
def retire(ctx: click.Context, kid: str, unpublish: bool, as_json: bool) -> None:
    """Stop signing with KID now; it stays published until its tokens expire."""
    settings = load_settings(ctx)

    async def action(store: Storage) -> tuple[SigningKey, int]:
        server = _server(ctx, store)
        ring, publish_for = server.keys, await server.key_publish_window()
        try:
            key = await ring.retire(kid, publish_for=publish_for, unpublish=unpublish)
        except KeyRingError as exc:
            raise BadInputError(str(exc)) from None
        await server.audit.record(
            AuditEventType.KEY_RETIRED,
            cli_origin(),
            kid=key.kid,
            alg=key.alg,
            unpublished=unpublish,
        )
        return key, ring.now()

    key, now = with_store(settings, action)
    if as_json:
        echo_json(key_record(key, now))
        return
    click.echo(f"retired {key.kid}: {_state(key, now)}")


@keys_group.command("reseal")
@click.option(
    "--previous-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the key-encryption key the keys are sealed with now.",
)
@click.option(
    "--previous-from-secret-key",
    is_flag=True,
    help="The keys are sealed with the key derived from the server secret (no "
    "key-encryption key was set before).",
)
@json_option
@database_url_option
@click.pass_context
def reseal(
    ctx: click.Context,
    previous_key_file: Path | None,
    previous_from_secret_key: bool,
    as_json: bool,
) -> None:
    """Re-seal every signing key under the configured key-encryption key.

    To change the key-encryption key: set the new one (MINTAGE_KEY_ENCRYPTION_KEY or
    _FILE), run this with the old one, then restart the instances.
    """
    if (previous_key_file is None) == (not previous_from_secret_key):
        raise BadInputError("give --previous-key-file or --previous-from-secret-key")
    settings = load_settings(ctx)
    if previous_key_file is not None:
        old = previous_key_file.read_text().strip().encode()
        if len(old) < 32:
            raise BadInputError(f"{previous_key_file}: the key is shorter than 32 characters")
    else:
        old = pepper_for(settings)
    previous = Sealer(derive_key(old, SIGNING_KEY_SEALING))

    async def action(store: Storage) -> int:
        server = _server(ctx, store)
        try:
            changed = await server.keys.reseal(previous)
        except SealError:
            raise BadInputError(
                "a signing key opens with neither the configured nor the previous "
                "key-encryption key"
            ) from None
        await server.audit.record(AuditEventType.KEYS_RESEALED, cli_origin(), resealed=changed)
        return changed

    changed = with_store(settings, action)
    if as_json:
        echo_json({"resealed": changed})
    else:
        click.echo(f"re-sealed {changed} signing key(s) under the configured key-encryption key")
