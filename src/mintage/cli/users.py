"""``mintage user create``: resource owners for the password grant (RFC 6749 §4.3)."""

from __future__ import annotations

import sys

import click

from ..core.clock import system_clock
from ..core.credentials import new_id
from ..core.models import User
from ..core.passwords import hash_password
from ..core.storage import Storage
from .context import (
    BadInputError,
    CommandError,
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
