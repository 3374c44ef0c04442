"""Plumbing shared by the commands: settings, the store, the pepper, errors and output.

Only ``mintage serve`` and ``mintage db upgrade`` create or migrate a database.  Every
other command opens the store through :func:`with_store`, which says on stderr which
database it uses (a relative ``sqlite:///mintage.db`` depends on the current
directory) and refuses one that does not exist or has no Mintage schema, rather than
creating an empty one where the user did not mean it.
"""

from __future__ import annotations

import asyncio
import getpass
import sqlite3
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
import orjson
from pydantic import ValidationError

from ..core.audit import Origin
from ..core.errors import StorageUnavailableError
from ..core.storage import Storage
from ..secret_key import load_key_encryption_key, load_pepper
from ..settings import Settings
from ..storage import open_storage

T = TypeVar("T")


class CommandError(click.ClickException):
    """Something named does not exist or cannot be done (exit 1)."""

    exit_code = 1


class BadInputError(click.ClickException):
    """An option or a setting is invalid (exit 2, like click's own usage errors)."""

    exit_code = 2


@dataclass
class CliState:
    """Options given to the group or a command that apply to every command."""

    database_url: str | None = None


def cli_state(ctx: click.Context) -> CliState:
    return ctx.ensure_object(CliState)


def _remember_database_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        cli_state(ctx).database_url = value


#: ``--database-url``, accepted by the group and by every command.
database_url_option = click.option(
    "--database-url",
    metavar="URL",
    expose_value=False,
    callback=_remember_database_url,
    help="Store to use, overriding MINTAGE_DATABASE_URL "
    "(sqlite:///path.db, postgresql://…, memory://).",
)

#: ``--json``: machine-readable output.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        where = f"{field} (MINTAGE_{field.upper()}): " if field else ""
        lines.append(f"  {where}{message}")
    return "\n".join(lines)


def load_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from MINTAGE_* and the config file, with command-line ``overrides``.

    Invalid settings end the command with exit 2 and one line per problem; the
    development-only warnings of :class:`Settings` are shown as plain lines on stderr.
    """
    database_url = cli_state(ctx).database_url
    if database_url is not None:
        overrides["database_url"] = database_url
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            settings = Settings(**overrides)
        except ValidationError as exc:
            raise BadInputError("invalid settings:\n" + _describe(exc)) from None
        except (OSError, ValueError) as exc:  # MINTAGE_CONFIG missing or not TOML
            raise BadInputError(f"cannot read the settings: {exc}") from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    return settings


def pepper_for(settings: Settings, *, creating: bool = False) -> bytes:
    """The server secret, or exit with the reason it is missing, unreadable or short.

    The key-encryption key is checked here too, so a short one ends the command with
    that reason rather than with a traceback where the server is built.  Unless
    ``creating`` (``mintage serve``), a SQLite database must exist already: its key file,
    made beside it on first use, is not made beside a database that is not there.
    """
    if not creating:
        require_sqlite_file(settings.database_url)
    try:
        load_key_encryption_key(settings)
        return load_pepper(settings)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot read the server secret: {exc}") from None


def redact(database_url: str) -> str:
    """The URL with its password masked, fit for a banner or an error message."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def build_store(settings: Settings) -> Storage:
    """The (unopened) store for the settings' URL; exit 2 on an unsupported URL."""
    try:
        return open_storage(settings.database_url)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None


async def open_store(store: Storage, settings: Settings) -> None:
    """Open (and so create or migrate) the store; exit 1 when that fails."""
    try:
        await store.open()
    except Exception as exc:  # any driver's failure: report it, never a traceback
        raise CommandError(
            f"cannot open the database {redact(settings.database_url)}: {exc}"
        ) from None


#: What to do about a database that is not there, after "no database at …".
_CREATE_FIRST = "run `mintage db upgrade` or `mintage serve` first, or pass --database-url"
#: The table Alembic keeps the schema revision in: present once a store was created.
_VERSION_TABLE = "alembic_version"


def sqlite_file(database_url: str) -> Path:
    """The absolute path of a ``sqlite:///`` URL's file, as the store would open it."""
    from ..storage.sql.migrate import sqlite_path  # SQLAlchemy only when needed

    return Path(sqlite_path(database_url)).absolute()


def describe_store(database_url: str) -> str:
    """The store as the user should see it: a SQLite file's absolute path (a relative
    URL depends on the current directory), any other URL without its password."""
    if database_url.startswith("sqlite:"):
        return str(sqlite_file(database_url))
    return redact(database_url)


def _sqlite_has_schema(path: Path) -> bool:
    # Read-only: a probe must not create the file or change it.
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_VERSION_TABLE,)
        ).fetchone()
    finally:
        connection.close()
    return row is not None


async def _postgres_has_schema(database_url: str) -> bool:
    import asyncpg

    from ..storage.sql.migrate import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        # to_regclass follows search_path: the schema the store would use.
        found = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", _VERSION_TABLE)
    finally:
        await connection.close()
    return bool(found)


def require_sqlite_file(database_url: str) -> None:
    """Exit 1 when a ``sqlite:///`` URL names no existing file; other URLs pass."""
    if not database_url.startswith("sqlite:"):
        return
    try:
        path = sqlite_file(database_url)
    except ValueError as exc:  # a malformed URL
        raise BadInputError(str(exc)) from None
    if not path.is_file():
        raise CommandError(f"no database at {path}: {_CREATE_FIRST}")


async def require_existing_store(settings: Settings) -> None:
    """Exit 1 unless the database exists and has a Mintage schema (of any revision: an
    older one is migrated when the store opens, as the server would)."""
    url = settings.database_url
    try:
        if url.startswith("sqlite:"):
            require_sqlite_file(url)
            present = _sqlite_has_schema(sqlite_file(url))
        elif url.startswith(("postgresql:", "postgres:")):
            present = await _postgres_has_schema(url)
        else:  # memory:// is made on open, and gone after the command
            return
    except CommandError:
        raise
    except ValueError as exc:  # a malformed URL
        raise BadInputError(str(exc)) from None
    except Exception as exc:  # any driver's failure: report it, never a traceback
        raise CommandError(f"cannot open the database {describe_store(url)}: {exc}") from None
    if not present:
        raise CommandError(f"no Mintage database at {describe_store(url)}: {_CREATE_FIRST}")


def with_store(settings: Settings, action: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the configured store, run ``action`` on it, close it; return its result.

    The store must exist already (:func:`require_existing_store`); which one it is goes
    to stderr first, so output on stdout stays what scripts parse.
    """

    async def run() -> T:
        store = build_store(settings)
        click.echo(f"database: {describe_store(settings.database_url)}", err=True)
        await require_existing_store(settings)
        await open_store(store, settings)
        try:
            return await action(store)
        except StorageUnavailableError as exc:
            raise CommandError(f"the database is unavailable: {exc}") from None
        finally:
            await store.close()

    return asyncio.run(run())


def cli_origin() -> Origin:
    """The origin of the audit events a command records: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (containers)
        user = "unknown"
    return Origin(actor=f"cli:{user}")


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
