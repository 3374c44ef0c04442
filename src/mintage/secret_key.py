"""The server secret (pepper) that keys client-secret digests (docs/architecture.md §4)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from .settings import Settings


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for other stores."""
    if not database_url.startswith("sqlite:///"):
        return None
    return Path(database_url[len("sqlite:///") :])


#: bytes of key material a server secret or key-encryption key must have, at least
MIN_KEY_BYTES = 32


def _checked(value: bytes, source: str, what: str = "server secret") -> bytes:
    """``value`` when it is long enough; else a start-up error naming where it came from.

    HMAC keyed with a few bytes (or none: an empty or half-written file) would make
    every client-secret digest guessable offline, so a short key never starts a server.
    """
    if len(value) < MIN_KEY_BYTES:
        raise ValueError(
            f"{source}: the {what} is {len(value)} bytes long, shorter than the "
            f"{MIN_KEY_BYTES} it needs (an empty or truncated file?)"
        )
    return value


def _read_key_file(path: Path, what: str = "server secret") -> bytes:
    return _checked(path.read_text().strip().encode(), str(path), what)


def load_pepper(settings: Settings) -> bytes:
    """The pepper from the settings, a key file, or (SQLite only) a file created once.

    PostgreSQL deployments run several instances, which must share one key: there it
    must be configured, never invented.  Whatever the source, fewer than
    :data:`MIN_KEY_BYTES` bytes stop the start-up with a clear error.
    """
    if settings.secret_key:
        return _checked(settings.secret_key.encode(), "secret_key (MINTAGE_SECRET_KEY)")
    if settings.secret_key_file:
        return _read_key_file(settings.secret_key_file)
    if settings.database_url.startswith("memory:"):
        return secrets.token_bytes(MIN_KEY_BYTES)
    db = sqlite_path(settings.database_url)
    if db is None:
        raise ValueError(
            "set MINTAGE_SECRET_KEY (or MINTAGE_SECRET_KEY_FILE) to the same value on every "
            "instance sharing this database"
        )
    key_file = db.with_name(db.name + ".key")
    if not key_file.exists():
        _create_key_file(key_file, secrets.token_urlsafe(48))
    return _read_key_file(key_file)


def _create_key_file(key_file: Path, value: str) -> None:
    """Write ``value`` to ``key_file`` unless it exists: whole or not at all, mode 0600.

    The key is written and flushed to disk in a temporary file of the same directory,
    then hard-linked to its name.  ``link`` fails if the name exists, so of several
    processes starting at once exactly one key wins and nobody ever reads a file that
    is still being written (which an ``O_EXCL`` create followed by a write would allow).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{key_file.name}.", dir=key_file.parent)
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp creates the file with mode 0600
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first
            os.link(tmp, key_file)
            _fsync_directory(key_file.parent)
    finally:
        os.unlink(tmp)


def _fsync_directory(directory: Path) -> None:
    """Make the new name durable: a crash must not lose the key the clients depend on."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_key_encryption_key(settings: Settings) -> bytes | None:
    """The configured key-encryption key, or ``None`` (derive it from the pepper)."""
    if settings.key_encryption_key:
        return _checked(
            settings.key_encryption_key.encode(),
            "key_encryption_key (MINTAGE_KEY_ENCRYPTION_KEY)",
            "key-encryption key",
        )
    if settings.key_encryption_key_file:
        return _read_key_file(settings.key_encryption_key_file, "key-encryption key")
    return None
