"""The server secret (pepper) that keys client-secret digests (DESIGN §4)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .settings import Settings


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for other stores."""
    if not database_url.startswith("sqlite:///"):
        return None
    return Path(database_url[len("sqlite:///") :])


def load_pepper(settings: Settings) -> bytes:
    """The pepper from the settings, a key file, or (SQLite only) a file created once.

    PostgreSQL deployments run several instances, which must share one key: there it
    must be configured, never invented.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    if settings.secret_key_file:
        value = settings.secret_key_file.read_text().strip()
        if len(value) < 32:
            raise ValueError(f"{settings.secret_key_file}: the secret key is shorter than 32")
        return value.encode()
    if settings.database_url.startswith("memory:"):
        return secrets.token_bytes(32)
    db = sqlite_path(settings.database_url)
    if db is None:
        raise ValueError(
            "set MINTAGE_SECRET_KEY (or MINTAGE_SECRET_KEY_FILE) to the same value on every "
            "instance sharing this database"
        )
    key_file = db.with_name(db.name + ".key")
    try:
        return key_file.read_text().strip().encode()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return key_file.read_text().strip().encode()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value.encode()


def load_key_encryption_key(settings: Settings) -> bytes | None:
    """The configured key-encryption key, or ``None`` (derive it from the pepper)."""
    if settings.key_encryption_key:
        return settings.key_encryption_key.encode()
    if settings.key_encryption_key_file:
        value = settings.key_encryption_key_file.read_text().strip()
        if len(value) < 32:
            raise ValueError(
                f"{settings.key_encryption_key_file}: the key-encryption key is shorter than 32"
            )
        return value.encode()
    return None
