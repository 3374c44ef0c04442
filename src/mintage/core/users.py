"""Where users come from: the user-source protocol, and Mintage's own users table as one.

A resource owner (RFC 6749 §1.1) signs in on Mintage's pages and through the password
grant (RFC 6749 §4.3); who they are and how their password is checked is asked of a
:class:`UserSource`.  By default that is :class:`StoreUserSource`, the ``users`` table
that ``mintage user create`` fills, with Argon2id hashes (:mod:`.passwords`).  An
application with its own user table and password hashes (bcrypt, Django's PBKDF2,
Argon2) passes its own source to ``create_app(users=...)`` and keeps its users where
they are; docs/users.md shows how.

What stays with Mintage whatever the source: the lock-out and sign-in rate limits
(:mod:`.login`, counted in Mintage's ``login_failures``), sessions, consents and tokens,
which name the user by :attr:`~.models.User.user_id`, the ``sub`` of ID tokens and
UserInfo (OpenID Connect Core §2: "locally unique and never reassigned").

The password check runs on Mintage's bounded pool (:class:`~.passwords.PasswordVerifier`,
off the event loop); a source's :meth:`UserSource.verify_password` is therefore a plain,
blocking function.  No user enumeration by timing (RFC 6749 §10.10): it is also called
for unknown usernames and for locked-out sources, with ``user=None``, and must then do
the same work as a real check (verify against a dummy hash of the same kind and cost)
and answer ``False``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from . import passwords
from .models import User
from .storage import UserStore


@runtime_checkable
class UserSource(Protocol):
    """Finds users, checks their passwords, and gives their OpenID Connect claims.

    The ``password_hash`` of the :class:`~.models.User` records a source returns is its
    own business: Mintage hands the record back to :meth:`verify_password` and never
    reads, logs or stores it.
    """

    async def get_user_by_username(self, username: str) -> User | None:
        """The user signing in as ``username`` (exactly as typed), or ``None``."""
        ...

    async def get_user(self, user_id: str) -> User | None:
        """The user with this stable id (a session's, a token's ``sub``), or ``None``."""
        ...

    def verify_password(self, user: User | None, password: str) -> bool:
        """Does ``password`` match ``user``'s?  Blocking: it runs on the password pool.

        ``user=None`` (unknown username, or a locked-out source whose password is not
        checked): do the work of a real check against a dummy hash, then answer
        ``False``.  Compare in constant time (the hashing libraries do); a malformed
        stored hash answers ``False`` rather than raising.
        """
        ...

    async def claims(self, user: User) -> Mapping[str, str]:
        """The user's OpenID Connect claims (Core §5.1) as strings, as
        ``mintage user set-claims`` keeps them: ``email_verified`` ``"true"``,
        ``updated_at`` a number, ``address`` a JSON object or ``address.<field>``
        entries; UserInfo releases them by scope (Core §5.4) with their JSON types."""
        ...


class StoreUserSource:
    """Mintage's own ``users`` table (any :class:`~.storage.UserStore`): Argon2id hashes
    made by ``mintage user create``, claims set by ``mintage user set-claims``."""

    __slots__ = ("_store",)

    def __init__(self, store: UserStore) -> None:
        self._store = store

    async def get_user_by_username(self, username: str) -> User | None:
        return await self._store.get_user_by_username(username)

    async def get_user(self, user_id: str) -> User | None:
        return await self._store.get_user(user_id)

    def verify_password(self, user: User | None, password: str) -> bool:
        # Looked up at each call, so a test can count the Argon2 verifications.
        return passwords.check_password(user.password_hash if user else None, password)

    async def claims(self, user: User) -> Mapping[str, str]:
        return user.claims
