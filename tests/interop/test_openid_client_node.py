"""Node's openid-client, a certified OpenID Connect relying party, against ``mintage serve``.

A real server on a free port and SQLite; its user and clients are made with the
``mintage`` command, as an operator would.  ``node/rp.mjs`` discovers everything from
the issuer URL, plays the user through the sign-in and consent pages, lets openid-client
redeem the code and validate the ID token, calls UserInfo, refreshes, and prints a JSON
summary that the tests here check.

The npm packages are pinned in ``node/package-lock.json`` (no registry URLs) and
installed with ``npm ci`` into ``tests/interop/.cache/`` (git-ignored), again only when
the pins change; npm's own cache makes later installs work offline.  Without ``node``
and ``npm`` the tests skip with the reason, unless ``MINTAGE_REQUIRE_NODE=1`` (set by
``.ci/run``) makes that a failure; so does an install that fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from serve_process import Process, clean_env, free_port

from oauth_testkit import PASSWORD

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "node"
CACHE = HERE / ".cache" / "openid-client"
PINNED = ("package.json", "package-lock.json")
#: the relying party's callback: never served, the script reads the redirect itself
REDIRECT_URI = "http://127.0.0.1:9/callback"
POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:9/signed-out"
#: Core §11: the refresh below is offline access, so the RP asks for it
SCOPE = "openid profile email offline_access"
CLAIMS = ("email=alice@example.com", "email_verified=true", "name=Alice Liddell")


def unavailable(reason: str) -> None:
    """Skip, or fail when MINTAGE_REQUIRE_NODE=1 says Node must be there."""
    if os.environ.get("MINTAGE_REQUIRE_NODE") == "1":
        pytest.fail(f"MINTAGE_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def install() -> Path:
    """The relying party with its pinned packages, installed when the pins changed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm are needed (apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    pins = b"".join((SOURCE / name).read_bytes() for name in PINNED)
    stamp = hashlib.sha256(pins).hexdigest()
    stamp_file = CACHE / ".installed"
    for name in (*PINNED, "rp.mjs"):
        shutil.copyfile(SOURCE / name, CACHE / name)
    installed = (CACHE / "node_modules" / "openid-client").is_dir()
    if installed and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return CACHE
    done = subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CACHE,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"npm ci of openid-client failed:\n{done.stderr[-2000:]}")
    stamp_file.write_text(stamp)
    return CACHE


@dataclass
class Deployment:
    issuer: str
    env: dict[str, str]
    user_id: str
    workdir: Path


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "mintage.cli.main", *args, "--json"],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def rp_home() -> Path:
    return install()


@pytest.fixture(scope="module")
def deployment(rp_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("openid-client")
    env = clean_env(
        MINTAGE_DATABASE_URL=f"sqlite:///{workdir / 'mintage.db'}",
        MINTAGE_CREATE_DEMO_CLIENT="false",
    )
    # Only serve and db upgrade create a database; the user and the client come first.
    subprocess.run(
        [sys.executable, "-m", "mintage.cli.main", "db", "upgrade"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    user = cli("user", "create", "alice", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    claims = cli("user", "set-claims", "alice", *CLAIMS, env=env)["claims"]
    assert claims["email"] == "alice@example.com"
    port = free_port()
    server = Process(
        [sys.executable, "-m", "mintage.cli.main", "serve", "--port", str(port)],
        workdir,
        env,
        "mintage",
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(issuer + "/healthz")
        yield Deployment(issuer, env, user["user_id"], workdir)
    finally:
        server.kill()


def run_relying_party(rp_home: Path, deployment: Deployment, *extra: str) -> dict[str, Any]:
    """Create a client with the CLI, then run ``rp.mjs`` for it; its summary."""
    client = cli(
        "client", "create", "--name", "openid-client RP",
        "--grant-type", "authorization_code", "--grant-type", "refresh_token",
        "--scope", SCOPE, "--redirect-uri", REDIRECT_URI,
        "--post-logout-redirect-uri", POST_LOGOUT_REDIRECT_URI, *extra,
        env=deployment.env,
    )  # fmt: skip
    node = shutil.which("node") or "node"
    done = subprocess.run(
        [node, "rp.mjs"],
        cwd=rp_home,
        env=clean_env(
            ISSUER=deployment.issuer,
            CLIENT_ID=client["client_id"],
            CLIENT_SECRET=client.get("client_secret") or "",
            REDIRECT_URI=REDIRECT_URI,
            POST_LOGOUT_REDIRECT_URI=POST_LOGOUT_REDIRECT_URI,
            SCOPE=SCOPE,
            USERNAME="alice",
            PASSWORD=PASSWORD,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{done.stderr}\n{done.stdout}"
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["client_id"] = client["client_id"]
    return summary


def check_summary(
    summary: dict[str, Any], deployment: Deployment, *, jwt: bool, public: bool = False
) -> None:
    assert summary["openidClientVersion"].startswith("6.")
    server = summary["server"]
    assert server["issuer"] == deployment.issuer
    assert server["supportsPKCE"] is True
    assert server["userinfo_endpoint"] == deployment.issuer + "/userinfo"
    # a new browser: the sign-in page, then consent
    assert summary["pages"] == ["login", "consent"]
    assert summary["callback"]["iss"] == deployment.issuer

    token = summary["token"]
    assert token["token_type"].lower() == "bearer"
    assert token["scope"] == SCOPE
    assert token["has_refresh_token"] is True
    assert token["access_token_is_jwt"] is jwt

    # validated by openid-client (signature, iss, aud, nonce, exp); here: what it said
    claims = summary["idToken"]
    assert claims["iss"] == deployment.issuer
    assert claims["sub"] == deployment.user_id
    assert claims["aud"] == summary["client_id"]
    assert claims["nonce"] == summary["nonce"]
    assert claims["amr"] == ["pwd"]
    assert isinstance(claims["auth_time"], int)
    assert claims["iat"] <= claims["exp"]

    assert summary["userinfo"] == {
        "sub": deployment.user_id,
        "name": "Alice Liddell",
        "preferred_username": "alice",
        "email": "alice@example.com",
        "email_verified": True,
    }
    refreshed = summary["refreshed"]
    assert refreshed["new_access_token"] is True
    assert refreshed["new_refresh_token"] is True
    again = refreshed["idToken"]
    assert again is not None, "a refresh of an openid grant returns an ID token (Core §12.2)"
    for name in ("iss", "sub", "aud", "auth_time"):
        assert again[name] == claims[name], name
    assert "nonce" not in again
    assert summary["userinfoAfterRefresh"]["sub"] == deployment.user_id

    # openid-client refused an ID token whose nonce was not the one it expected
    refused = summary["wrongNonce"]
    assert refused is not None, "openid-client accepted an unexpected nonce"
    assert refused["code"] == "OAUTH_JWT_CLAIM_COMPARISON_FAILED", refused
    assert refused["claim"] == "nonce", refused

    # Core §3.1.2.1 with the browser still signed in: prompt=none shows no page and
    # keeps the sign-in; prompt=login asks for the password again and starts a new one;
    # max_age is met by that sign-in, which openid-client checks against auth_time.
    # A public client on a loopback redirect URI is asked for consent every time
    # (RFC 8252 §8.6): prompt=none answers consent_required, and each sign-in shows
    # the consent page.
    first = claims["auth_time"]
    consent = ["consent"] if public else []
    if public:
        assert summary["silent"]["error"] == "consent_required", summary["silent"]
    else:
        assert summary["silent"] == {"pages": [], "sub": deployment.user_id, "auth_time": first}
    again = summary["promptLogin"]
    assert again["pages"] == ["login", *consent] and again["auth_time"] > first
    assert summary["maxAge"] == {**again, "pages": consent}

    # RP-Initiated Logout: the hint names the signed-in user, so no question is asked
    logout = summary["logout"]
    assert logout["end_session_endpoint"] == deployment.issuer + "/oauth/logout"
    assert logout["pages"] == []
    assert logout["returned_to"] == POST_LOGOUT_REDIRECT_URI
    assert logout["state_matches"] is True
    # signed out: prompt=none now answers login_required to the client
    assert summary["afterLogout"] is not None, "prompt=none succeeded after the logout"
    assert summary["afterLogout"]["error"] == "login_required", summary["afterLogout"]


@pytest.mark.timeout(300)
def test_confidential_client_with_opaque_access_tokens(
    rp_home: Path, deployment: Deployment
) -> None:
    summary = run_relying_party(rp_home, deployment)
    check_summary(summary, deployment, jwt=False)


@pytest.mark.timeout(300)
def test_public_client_with_jwt_access_tokens(rp_home: Path, deployment: Deployment) -> None:
    summary = run_relying_party(rp_home, deployment, "--public", "--access-token-format", "jwt")
    check_summary(summary, deployment, jwt=True, public=True)
