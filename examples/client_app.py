"""The origin's example client, in Python: get a token, call the protected resource.

    CLIENT_ID=… CLIENT_SECRET=… python examples/client_app.py
    python examples/client_app.py CLIENT_ID CLIENT_SECRET [--url http://127.0.0.1:3000]

Like the origin's client it posts JSON to ``/oauth/token`` with ``client_credentials``
and prints what ``/resource`` answers.  With ``--username`` and ``--password`` (for a
client registered with the ``password`` and ``refresh_token`` grants) it instead signs the
user in, then shows refresh-token rotation (the used refresh token is rejected
afterwards) and revocation (the access token is refused at once).

Exits 1 on any answer it did not expect, 0 when everything behaved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx


class UnexpectedAnswer(Exception):
    """The server answered something this walkthrough did not expect."""


class Walkthrough:
    """One client's conversation with a Mintage (or origin) server."""

    def __init__(self, http: httpx.Client, client_id: str, client_secret: str | None) -> None:
        self.http = http
        self.credentials = {"client_id": client_id}
        if client_secret:
            self.credentials["client_secret"] = client_secret

    def post_json(self, path: str, body: dict[str, str], expect: int) -> dict[str, Any]:
        """POST a JSON body with the client's credentials, as the origin's client did."""
        response = self.http.post(path, json={**body, **self.credentials})
        return self.expect(response, expect)

    def token(self, body: dict[str, str]) -> dict[str, Any]:
        answer = self.post_json("/oauth/token", body, 200)
        if not isinstance(answer.get("access_token"), str):
            raise UnexpectedAnswer(f"no access_token in {answer}")
        return answer

    def resource(self, access_token: str, expect: int = 200) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}"}
        return self.expect(self.http.get("/resource", headers=headers), expect)

    @staticmethod
    def expect(response: httpx.Response, status: int) -> dict[str, Any]:
        request = f"{response.request.method} {response.request.url.path}"
        if response.status_code != status:
            raise UnexpectedAnswer(
                f"{request} answered {response.status_code}, expected {status}: {response.text}"
            )
        if not response.content:
            return {}
        try:
            document = response.json()
        except ValueError:
            raise UnexpectedAnswer(f"{request} answered non-JSON: {response.text}") from None
        if not isinstance(document, dict):
            raise UnexpectedAnswer(f"{request} answered {document!r}, not a JSON object")
        return document


def show(label: str, document: dict[str, Any]) -> None:
    print(f"{label}: {json.dumps(document, sort_keys=True)}")


def client_credentials(flow: Walkthrough) -> None:
    """The origin's example: a token for the client itself, then the resource."""
    token = flow.token({"grant_type": "client_credentials"})
    print(f"access token: {token['access_token'][:16]}… (expires in {token['expires_in']} s)")
    show("resource", flow.resource(token["access_token"]))


def password_refresh_revoke(flow: Walkthrough, username: str, password: str) -> None:
    """Sign a user in, rotate the refresh token, then revoke and show the 401."""
    first = flow.token({"grant_type": "password", "username": username, "password": password})
    if "refresh_token" not in first:
        raise UnexpectedAnswer("no refresh_token: give the client the refresh_token grant")
    show("resource", flow.resource(first["access_token"]))

    second = flow.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    if second.get("refresh_token") in (None, first["refresh_token"]):
        raise UnexpectedAnswer("the refresh token was not rotated")
    print("refreshed: a new access token and a new refresh token")
    show("resource", flow.resource(second["access_token"]))

    # The used refresh token is spent.  Presenting it again looks like theft, so the
    # server also revokes everything issued from it (RFC 9700 §4.14.2).
    replay = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    reused = flow.post_json("/oauth/token", replay, 400)
    if reused.get("error") != "invalid_grant":
        raise UnexpectedAnswer(f"reusing a refresh token answered {reused}")
    print("old refresh token rejected: invalid_grant (rotation; its family is revoked too)")
    flow.resource(second["access_token"], expect=401)
    print("the access token issued with the new refresh token is refused now: 401")

    # Revocation (RFC 7009): a fresh sign-in, then give its refresh token up.
    third = flow.token({"grant_type": "password", "username": username, "password": password})
    flow.resource(third["access_token"])
    body = {"token": third["refresh_token"], "token_type_hint": "refresh_token"}
    flow.post_json("/oauth/revoke", body, 200)
    print("revoked the refresh token and the access tokens issued with it")
    refused = flow.resource(third["access_token"], expect=401)
    print(f"resource after revocation: 401 {refused.get('error', '')}".rstrip())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client_id", nargs="?", default=os.environ.get("CLIENT_ID"))
    parser.add_argument("client_secret", nargs="?", default=os.environ.get("CLIENT_SECRET"))
    parser.add_argument(
        "--url", default=os.environ.get("MINTAGE_URL", "http://127.0.0.1:3000"), help="server"
    )
    parser.add_argument("--username", help="sign this user in (password grant)")
    parser.add_argument("--password", help="the user's password")
    args = parser.parse_args(argv)
    if not args.client_id:
        parser.error("give CLIENT_ID (environment or first argument)")
    if (args.username is None) != (args.password is None):
        parser.error("--username and --password go together")
    if args.username is None and not args.client_secret:
        parser.error("client_credentials needs CLIENT_SECRET (environment or second argument)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        with httpx.Client(base_url=args.url, timeout=10) as http:
            flow = Walkthrough(http, args.client_id, args.client_secret)
            if args.username is None:
                client_credentials(flow)
            else:
                password_refresh_revoke(flow, args.username, args.password)
    except UnexpectedAnswer as exc:
        print(f"unexpected answer: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
