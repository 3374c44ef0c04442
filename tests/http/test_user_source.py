"""A user source of the application's own (docs/users.md) through HTTP: the sign-in
page, the password grant (RFC 6749 §4.3) and UserInfo (OpenID Connect Core §5.3) ask it;
its check runs on Mintage's bounded password pool; the lock-out stays Mintage's."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping

from mintage.core.login import LOCK_THRESHOLD
from mintage.core.models import User
from oauth_testkit import MakeServer, bearer, page_forms

ROUNDS = 1000


def django_hash(password: str, salt: str = "pepperedsalt") -> str:
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ROUNDS)
    return f"pbkdf2_sha256${ROUNDS}${salt}${base64.b64encode(derived).decode()}"


class DictSource:
    """Users in a dict with Django PBKDF2 hashes; records every check and its thread."""

    def __init__(self) -> None:
        self.users = {
            "7": User("7", "grace", django_hash("cobol all the way"), claims={"name": "Grace"})
        }
        self.checks: list[tuple[str | None, str]] = []

    async def get_user_by_username(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username == username), None)

    async def get_user(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def verify_password(self, user: User | None, password: str) -> bool:
        self.checks.append((user.user_id if user else None, threading.current_thread().name))
        encoded = user.password_hash if user else django_hash("dummy", "dummysalt")
        _, rounds, salt, expected = encoded.split("$", 3)
        derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds))
        return base64.b64encode(derived).decode() == expected and user is not None

    async def claims(self, user: User) -> Mapping[str, str]:
        return {**user.claims, "email": "grace@example.com", "email_verified": "true"}


async def test_password_grant_and_userinfo_through_the_source(make_server: MakeServer) -> None:
    source = DictSource()
    server = await make_server(users=source)
    reg = await server.client(grant_types=("password",), scopes=("openid", "profile", "email"))
    body = await server.password_grant(
        reg, "grace", "cobol all the way", scope="openid profile email"
    )
    info = await server.http.get("/userinfo", headers=bearer(body["access_token"]))
    assert info.status_code == 200, info.text
    assert info.json() == {
        "sub": "7",
        "name": "Grace",
        "preferred_username": "grace",
        "email": "grace@example.com",
        "email_verified": True,
    }
    # the source's check ran on Mintage's password pool, not on the event loop
    assert [(who, name.startswith("mintage-argon2")) for who, name in source.checks] == [
        ("7", True)
    ]
    assert server.storage.users == {}  # Mintage's own table is not consulted


async def test_unknown_and_wrong_answer_alike_and_count_toward_the_lock_out(
    make_server: MakeServer,
) -> None:
    source = DictSource()
    server = await make_server(users=source)
    reg = await server.client(grant_types=("password",), scopes=("read",))
    answers = []
    for username, password in [("nobody", "cobol all the way"), ("grace", "fortran")]:
        response = await server.token(
            {"grant_type": "password", "username": username, "password": password}, reg.basic
        )
        answers.append((response.status_code, response.json()))
    assert (
        answers[0]
        == answers[1]
        == (
            400,
            {"error": "invalid_grant", "error_description": "invalid username or password"},
        )
    )
    # the unknown user cost one check too, against the source's dummy hash
    assert [who for who, _ in source.checks] == [None, "7"]
    for _ in range(LOCK_THRESHOLD - 1):
        await server.token(
            {"grant_type": "password", "username": "grace", "password": "fortran"}, reg.basic
        )
    locked = await server.token(
        {"grant_type": "password", "username": "grace", "password": "cobol all the way"},
        reg.basic,
    )
    assert locked.status_code == 400 and locked.json()["error"] == "invalid_grant"
    # while locked the password is not checked: the source sees the dummy work only
    assert source.checks[-1][0] is None


async def test_a_session_follows_the_source(make_server: MakeServer) -> None:
    """A signed-in browser whose user the source no longer knows is signed out."""
    source = DictSource()
    server = await make_server(users=source)
    page = await server.http.get("/login")
    (form,) = [f for f in page_forms(page.text) if f.action.endswith("/login")]
    data = {**form.fields, "username": "grace", "password": "cobol all the way"}
    signed_in = await server.http.post("/login", data=data)
    assert signed_in.status_code == 303
    assert "grace" in (await server.http.get("/login")).text
    del source.users["7"]
    again = await server.http.get("/login")
    assert again.status_code == 200 and 'name="password"' in again.text
