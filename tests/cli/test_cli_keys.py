"""``mintage keys`` and the OpenID Connect options of ``client``/``user``, on SQLite,
checked against the JWKS and tokens of an app on the same database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_cli
from joserfc import jwt
from joserfc.jwk import KeySet
from test_cli import create_json, ok, run, with_app

db = test_cli.db  # the temporary-SQLite fixture


def keys_json(db: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(ok(db, "keys", "list", "--json").stdout)
    return out


def jwks(db: str) -> dict[str, Any]:
    async def action(client: httpx.AsyncClient) -> dict[str, Any]:
        body: dict[str, Any] = (await client.get("/.well-known/jwks.json")).json()
        return body

    return with_app(db, action)


def test_first_start_creates_keys_and_rotate_publishes_a_new_one(db: str) -> None:
    ok(db, "db", "upgrade")
    assert keys_json(db) == []
    first = {k["kid"] for k in jwks(db)["keys"]}  # the app's start created them
    listed = keys_json(db)
    assert {k["kid"] for k in listed} == first and {k["alg"] for k in listed} == {"RS256", "ES256"}
    assert all(k["state"] == "signing" for k in listed)
    rotated = json.loads(ok(db, "keys", "rotate", "--alg", "RS256", "--json").stdout)
    assert len(rotated) == 1 and rotated[0]["alg"] == "RS256"
    assert rotated[0]["not_before"] > rotated[0]["created_at"]  # published before it signs
    assert rotated[0]["kid"] in {k["kid"] for k in jwks(db)["keys"]}
    states = {k["kid"]: k for k in keys_json(db)}
    old_rs = next(k for k in listed if k["alg"] == "RS256")["kid"]
    assert states[old_rs]["retired_at"] == rotated[0]["not_before"]
    assert states[old_rs]["publish_until"] > states[old_rs]["retired_at"]
    text = ok(db, "keys", "list").stdout
    assert rotated[0]["kid"] in text and "signs from" in text
    events = json.loads(ok(db, "audit", "--event", "key.rotated", "--json").stdout)
    assert [e["detail"]["kid"] for e in events] == [rotated[0]["kid"]]
    assert events[0]["detail"]["actor"].startswith("cli:")


def test_retire_and_unpublish(db: str) -> None:
    ok(db, "db", "upgrade")
    jwks(db)
    es = next(k for k in keys_json(db) if k["alg"] == "ES256")["kid"]
    refused = run(db, "keys", "retire", es)
    assert refused.exit_code != 0 and "rotate" in refused.output
    ok(db, "keys", "rotate", "--alg", "ES256")
    ok(db, "keys", "retire", es, "--unpublish")
    assert es not in {k["kid"] for k in jwks(db)["keys"]}
    missing = run(db, "keys", "retire", "no-such-kid")
    assert missing.exit_code != 0 and "no signing key" in missing.output


def test_jwt_client_and_user_claims_from_the_cli(db: str) -> None:
    made = create_json(
        db,
        "--name",
        "api",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read",
        "--access-token-format",
        "jwt",
    )
    assert made["access_token_format"] == "jwt"

    async def action(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(made["client_id"], made["client_secret"]),
        )
        keys = (await client.get("/.well-known/jwks.json")).json()
        token: str = response.json()["access_token"]
        return token, keys

    token, keys = with_app(db, action)
    claims = jwt.decode(token, KeySet.import_key_set(keys), algorithms=["ES256"]).claims
    assert claims["client_id"] == made["client_id"] and claims["scope"] == "read"

    ok(db, "user", "create", "alice", "--password-stdin", input="pw-123456\n")
    out = json.loads(
        ok(
            db, "user", "set-claims", "alice", "email=a@example.com", "name=Alice A", "--json"
        ).stdout
    )
    assert out["claims"] == {"email": "a@example.com", "name": "Alice A"}
    out = json.loads(ok(db, "user", "set-claims", "alice", "name=", "--json").stdout)
    assert out["claims"] == {"email": "a@example.com"}
    bad = run(db, "user", "set-claims", "alice", "password=x")
    assert bad.exit_code != 0 and "not a standard claim" in bad.output
    bad_uri = run(
        db,
        "client",
        "create",
        "--name",
        "rp",
        "--grant-type",
        "authorization_code",
        "--redirect-uri",
        "https://rp.example/cb",
        "--post-logout-redirect-uri",
        "http://rp.example/bye",
    )
    assert bad_uri.exit_code != 0 and "https" in bad_uri.output


def test_changing_the_key_encryption_key_with_reseal(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(db, "db", "upgrade")
    before = {k["kid"] for k in jwks(db)["keys"]}  # sealed under the server secret
    new_kek = tmp_path / "kek"
    new_kek.write_text("n" * 40 + "\n")
    monkeypatch.setenv("MINTAGE_KEY_ENCRYPTION_KEY_FILE", str(new_kek))
    wrong = tmp_path / "wrong"
    wrong.write_text("w" * 40)
    refused = run(db, "keys", "reseal", "--previous-key-file", str(wrong))
    assert refused.exit_code != 0 and "neither" in refused.output
    done = json.loads(ok(db, "keys", "reseal", "--previous-from-secret-key", "--json").stdout)
    assert done == {"resealed": 2}
    again = json.loads(ok(db, "keys", "reseal", "--previous-from-secret-key", "--json").stdout)
    assert again == {"resealed": 0}
    # the server signs with the re-sealed keys: the same kids, tokens verify
    made = create_json(
        db, "--name", "api", "--grant-type", "client_credentials", "--access-token-format", "jwt"
    )

    async def action(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(made["client_id"], made["client_secret"]),
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"], (await client.get("/.well-known/jwks.json")).json()

    token, keys = with_app(db, action)
    assert {k["kid"] for k in keys["keys"]} == before
    jwt.decode(token, KeySet.import_key_set(keys), algorithms=["ES256"])
