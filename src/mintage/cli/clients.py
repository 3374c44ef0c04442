"""``mintage client …``: register, list, show, delete clients and rotate their secrets.

A client secret is printed once, by ``create`` or ``rotate-secret``; only its keyed
digest is stored (docs/architecture.md §4), so ``list`` and ``show`` have nothing to reveal.
"""

from __future__ import annotations

from typing import Any

import click

from ..core.clients import delete_client, register_client, rotate_secret
from ..core.credentials import SecretHasher
from ..core.errors import OAuthError
from ..core.models import Client
from ..core.storage import Storage
from .context import (
    BadInputError,
    CommandError,
    cli_origin,
    database_url_option,
    echo_json,
    json_option,
    load_settings,
    pepper_for,
    with_store,
)

_SHOWN_ONCE = "(shown only this once: store it now)"


def client_record(client: Client) -> dict[str, Any]:
    """What may be shown of a client: everything but its secret digest."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.is_public,
        "grant_types": list(client.grant_types),
        "scopes": list(client.scopes),
        "redirect_uris": list(client.redirect_uris),
        "require_pkce": client.require_pkce,
        "access_token_lifetime": client.access_token_lifetime,
        "refresh_token_lifetime": client.refresh_token_lifetime,
        "created_at": client.created_at,
        "access_token_format": client.access_token_format,
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "resources": list(client.resources),
    }


def _lifetime(seconds: int | None) -> str:
    return f"{seconds} s" if seconds else "server default"


def _row(label: str, value: str) -> None:
    click.echo(f"{label + ':':<15} {value}")


def describe_client(client: Client, secret: str | None = None) -> None:
    """Print a client for people; ``secret`` only right after it was generated."""
    rows = [("client_id", client.client_id)]
    if secret is not None:
        rows.append(("client_secret", f"{secret}  {_SHOWN_ONCE}"))
    rows += [
        ("name", client.name),
        ("type", "public" if client.is_public else "confidential"),
        ("grant types", " ".join(client.grant_types)),
        ("scopes", " ".join(client.scopes) or "(none)"),
        ("redirect URIs", " ".join(client.redirect_uris) or "(none)"),
        ("PKCE", "required" if client.require_pkce else "optional"),
        ("access token", _lifetime(client.access_token_lifetime)),
        ("refresh token", _lifetime(client.refresh_token_lifetime)),
        ("token format", client.access_token_format or "server default"),
        ("logout URIs", " ".join(client.post_logout_redirect_uris) or "(none)"),
        ("resources", " ".join(client.resources) or "(none)"),
    ]
    for label, value in rows:
        _row(label, value)


@click.group("client")
def client_group() -> None:
    """Register and manage OAuth clients."""


@client_group.command("create")
@click.option("--name", required=True, help="Display name of the client.")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    metavar="GRANT",
    help="authorization_code, client_credentials, password, refresh_token, or an extension "
    "grant's absolute URI (RFC 6749 §4.5); repeat for several.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="SCOPE",
    help="Scope the client may ask for; repeat, or give a space-separated list.",
)
@click.option("--redirect-uri", "redirect_uris", multiple=True, metavar="URI", help="Repeatable.")
@click.option("--public", is_flag=True, help="A public client: no secret (RFC 6749 §2.1).")
@click.option(
    "--no-require-pkce",
    "no_require_pkce",
    is_flag=True,
    help="Let this confidential client use authorization_code without PKCE "
    "(not recommended; public clients always need it).",
)
@click.option("--access-token-lifetime", type=int, metavar="SECONDS", help="Override the server's.")
@click.option(
    "--refresh-token-lifetime", type=int, metavar="SECONDS", help="Override the server's."
)
@click.option(
    "--access-token-format",
    type=click.Choice(["opaque", "jwt"]),
    help="Access tokens for this client: opaque, or JWT (RFC 9068); default: the server's.",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    metavar="URI",
    help="Where RP-initiated logout may return (OpenID Connect); repeatable.",
)
@click.option(
    "--resource",
    "resources",
    multiple=True,
    metavar="URI",
    help="A resource (RFC 8707) this client serves: it may introspect the access tokens "
    "meant for it; repeatable.",
)
@json_option
@database_url_option
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    grant_types: tuple[str, ...],
    scopes: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    public: bool,
    no_require_pkce: bool,
    access_token_lifetime: int | None,
    refresh_token_lifetime: int | None,
    access_token_format: str | None,
    post_logout_redirect_uris: tuple[str, ...],
    resources: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register a client and print its id and, once, its secret."""
    settings = load_settings(ctx)
    hasher = SecretHasher(pepper_for(settings))

    async def action(store: Storage) -> tuple[Client, str | None]:
        try:
            return await register_client(
                store,
                hasher,
                name=name,
                grant_types=grant_types,
                scopes=scopes,
                redirect_uris=redirect_uris,
                public=public,
                require_pkce=not no_require_pkce,
                access_token_lifetime=access_token_lifetime,
                refresh_token_lifetime=refresh_token_lifetime,
                access_token_format=access_token_format,
                post_logout_redirect_uris=post_logout_redirect_uris,
                resources=resources,
                origin=cli_origin(),
            )
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
        except OAuthError as exc:  # a scope with characters RFC 6749 §3.3 forbids
            raise BadInputError(exc.description or exc.error) from None

    client, secret = with_store(settings, action)
    if as_json:
        echo_json({**client_record(client), "client_secret": secret})
        return
    describe_client(client, secret)


@client_group.command("list")
@json_option
@database_url_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List every client (never their secrets)."""
    clients = with_store(load_settings(ctx), lambda store: store.list_clients())
    if as_json:
        echo_json([client_record(c) for c in clients])
        return
    if not clients:
        click.echo("no clients")
        return
    for c in clients:
        kind = "public" if c.is_public else "confidential"
        click.echo(
            f"{c.client_id}  {c.name!r}  {kind}  grants: {' '.join(c.grant_types)}  "
            f"scopes: {' '.join(c.scopes) or '-'}"
        )


async def _existing(store: Storage, client_id: str) -> Client:
    client = await store.get_client(client_id)
    if client is None:
        raise CommandError(f"no client {client_id}")
    return client


@client_group.command("show")
@click.argument("client_id")
@json_option
@database_url_option
@click.pass_context
def show(ctx: click.Context, client_id: str, as_json: bool) -> None:
    """Show one client (never its secret)."""
    client = with_store(load_settings(ctx), lambda store: _existing(store, client_id))
    if as_json:
        echo_json(client_record(client))
    else:
        describe_client(client)


@client_group.command("delete")
@click.argument("client_id")
@json_option
@database_url_option
@click.pass_context
def delete(ctx: click.Context, client_id: str, as_json: bool) -> None:
    """Delete a client and every token issued to it."""
    deleted = with_store(
        load_settings(ctx),
        lambda store: delete_client(store, client_id, origin=cli_origin()),
    )
    if not deleted:
        raise CommandError(f"no client {client_id}")
    if as_json:
        echo_json({"client_id": client_id, "deleted": True})
    else:
        click.echo(f"deleted client {client_id} and its tokens")


@client_group.command("rotate-secret")
@click.argument("client_id")
@json_option
@database_url_option
@click.pass_context
def rotate(ctx: click.Context, client_id: str, as_json: bool) -> None:
    """Give a confidential client a new secret; the old one stops working at once."""
    settings = load_settings(ctx)
    hasher = SecretHasher(pepper_for(settings))

    async def action(store: Storage) -> tuple[Client, str]:
        try:
            return await rotate_secret(store, hasher, client_id, origin=cli_origin())
        except LookupError:
            raise CommandError(f"no client {client_id}") from None
        except ValueError as exc:
            raise BadInputError(str(exc)) from None

    client, secret = with_store(settings, action)
    if as_json:
        echo_json({"client_id": client.client_id, "client_secret": secret})
    else:
        _row("client_id", client.client_id)
        _row("client_secret", f"{secret}  {_SHOWN_ONCE}")
