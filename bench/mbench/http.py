"""The few set-up requests the harness sends itself (stdlib only: never on a measured path)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both parts form-encoded, then Base64."""
    raw = f"{urlencode({'': client_id})[1:]}:{urlencode({'': secret})[1:]}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def request_json(
    url: str,
    *,
    form: dict[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a form or JSON (GET without a body); the JSON answer, or a clear error."""
    data: bytes | None = None
    all_headers = dict(headers or {})
    if form is not None:
        data = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from None


def client_credentials_token(token_url: str, client_id: str, secret: str) -> str:
    answer = request_json(
        token_url,
        form={"grant_type": "client_credentials", "scope": "read"},
        headers={"Authorization": basic(client_id, secret)},
    )
    return str(answer["access_token"])
