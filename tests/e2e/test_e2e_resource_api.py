"""Issue 4's "done when", end to end: a real ``mintage serve`` on a port issues tokens,
and the FastAPI example API, protected by ``mintage.resource`` and given nothing but the
issuer URL (and its own client for introspection), accepts them and refuses the rest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_process import EXAMPLES, Process, clean_env, free_port, mintage

sys.path.insert(0, str(EXAMPLES))
import resource_api

from mintage.resource import verifier_for_issuer


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        "MINTAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'rs.db'}",
        "MINTAGE_CREATE_DEMO_CLIENT": "false",
        "MINTAGE_PORT": str(port),
    }
    process = Process(
        [sys.executable, "-m", "mintage.cli.main", "serve"], tmp_path, clean_env(**env), "serve"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        process.wait_healthy(url + "/healthz")
        yield url, env
    finally:
        process.kill()


def create(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    done = mintage("client", "create", "--json", *args, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


async def test_the_example_api_accepts_mintage_tokens_and_refuses_the_rest(
    issuer: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = issuer
    api_client = create(
        env,
        tmp_path,
        "--name",
        "notes-api",
        "--grant-type",
        "client_credentials",
        "--resource",
        f"{url}/resource",  # the tokens' audience: what lets it introspect them
    )
    jwt_client = create(
        env,
        tmp_path,
        "--name",
        "jwt",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read write",
        "--access-token-format",
        "jwt",
    )
    opaque_client = create(
        env, tmp_path, "--name", "opaque", "--grant-type", "client_credentials", "--scope", "read"
    )
    async with httpx.AsyncClient(base_url=url) as auth:

        async def token(client: dict[str, Any], scope: str) -> str:
            response = await auth.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": scope},
                auth=(client["client_id"], client["client_secret"]),
            )
            assert response.status_code == 200, response.text
            value: str = response.json()["access_token"]
            return value

        jwt_read = await token(jwt_client, "read")
        jwt_write = await token(jwt_client, "write")
        opaque = await token(opaque_client, "read")
        revoked = await token(opaque_client, "read")
        await auth.post(
            "/oauth/revoke",
            data={"token": revoked},
            auth=(opaque_client["client_id"], opaque_client["client_secret"]),
        )

    verifier = verifier_for_issuer(
        url, client_id=api_client["client_id"], client_secret=api_client["client_secret"]
    )
    app = resource_api.create_app(verifier)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as api:

        async def me(token: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await api.get("/api/me", headers=headers)

        ok = await me(jwt_read)
        assert ok.status_code == 200 and ok.json()["client_id"] == jwt_client["client_id"]
        assert (await me(opaque)).status_code == 200  # by introspection
        wrong_scope = await me(jwt_write)
        assert wrong_scope.status_code == 403
        assert 'error="insufficient_scope"' in wrong_scope.headers["www-authenticate"]
        for bad in (revoked, jwt_read[:-4] + "AAAA", "mint_at_nope", "x.y.z"):
            refused = await me(bad)
            assert refused.status_code == 401, bad
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        none = await me(None)
        assert none.status_code == 401 and "error=" not in none.headers["www-authenticate"]
    await verifier.aclose()
