"""Run by tests/packaging/test_wheel.py inside a fresh venv holding only ``mintage``:
verify a JWT access token (RFC 9068) with the resource kit against a stand-in JWKS, and
report which server-only libraries are importable (none should be)."""

import asyncio
import importlib.util
import json
import time

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

import mintage
from mintage.resource import JWTVerifier

ISSUER = "https://as.example"
key = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256", "use": "sig"})
jwks = KeySet([key]).as_dict(private=False)


def answer(request: httpx.Request) -> httpx.Response:
    assert str(request.url) == ISSUER + "/jwks", request.url
    return httpx.Response(200, json=jwks)


async def main() -> None:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": "https://api.example",
        "client_id": "app",
        "iat": now,
        "exp": now + 60,
        "jti": "j1",
        "scope": "read",
    }
    token = jwt.encode({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}, claims, key)
    verifier = JWTVerifier(
        ISSUER,
        audience="https://api.example",
        jwks_uri=ISSUER + "/jwks",
        transport=httpx.MockTransport(answer),
    )
    access = await verifier.verify(token)
    server_only = ("starlette", "sqlalchemy", "click", "argon2", "uvicorn", "pydantic")
    print(
        json.dumps(
            {
                "version": mintage.__version__,
                "subject": access.subject,
                "scopes": sorted(access.scopes),
                "installed": [m for m in server_only if importlib.util.find_spec(m) is not None],
            }
        )
    )


asyncio.run(main())
