"""``examples/fastapi_app.py`` in a real server: Swagger UI at ``/docs`` signs in through
the mounted Mintage (authorization code with PKCE) and calls a protected route.

Swagger UI's assets come from the ``swagger-ui-bundle-v2`` package; every request the
browser makes to another origin is refused and recorded, and none may happen.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import ROOT, free_port, require_browser, wait_healthy
from mintage.core.pkce import s256
from oauth_testkit import PASSWORD, page_forms


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fastapi_app_example", ROOT / "examples" / "fastapi_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Api:
    base: str
    example: ModuleType


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """The example on a free port, served by uvicorn in a thread of this process."""
    example = load_example()
    port = free_port()
    app = example.build_app(port, demo_password=PASSWORD)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/auth/healthz", thread.is_alive)
        yield Api(base, example)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_the_openapi_document_shows_the_flow_at_the_mounted_issuer(api: Api) -> None:
    document = httpx.get(f"{api.base}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    (name,) = schemes
    flow = schemes[name]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{api.base}/auth/oauth/authorize"
    assert flow["tokenUrl"] == f"{api.base}/auth/oauth/token"
    assert set(flow["scopes"]) == {"orders:read", "orders:write"}
    assert document["paths"]["/orders"]["get"]["security"] == [{name: ["orders:read"]}]
    assert document["paths"]["/orders"]["post"]["security"] == [{name: ["orders:write"]}]
    # the docs page loads Swagger UI from this server, not from a CDN
    html = httpx.get(f"{api.base}/docs").text
    assert 'src="/swagger-ui/swagger-ui-bundle.js"' in html and "https://" not in html
    assert httpx.get(f"{api.base}/swagger-ui/swagger-ui-bundle.js").status_code == 200


async def test_scopes_are_enforced_with_a_token_from_the_mounted_server(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.base) as http:
        response = await http.get("/orders")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith('Bearer realm="orders"')
        verifier = "v" * 50
        redirect_uri = f"{api.base}/docs/oauth2-redirect"
        params = {
            "response_type": "code",
            "client_id": "api-docs",
            "redirect_uri": redirect_uri,
            "scope": "orders:read",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        url = httpx.URL(f"{api.base}/auth/oauth/authorize", params=params)
        code = await sign_in(http, url, redirect_uri)
        token = (
            await http.post(
                "/auth/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": "api-docs",
                    "code_verifier": verifier,
                },
            )
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        response = await http.get("/orders", headers=auth)
        assert response.status_code == 200, response.text
        response = await http.post("/orders", headers=auth)
        assert response.status_code == 403
        assert response.json()["error"] == "insufficient_scope"


async def sign_in(http: httpx.AsyncClient, url: httpx.URL, redirect_uri: str) -> str:
    """The sign-in and consent pages as a browser plays them, up to the redirect to
    ``redirect_uri`` (on this same origin); the code it carries."""
    response = await http.get(url)
    for _ in range(8):
        if response.status_code in (302, 303):
            location = url.join(response.headers["location"])
            if str(location).startswith(redirect_uri + "?"):
                return location.params["code"]
            url = location
            response = await http.get(url)
            continue
        assert response.status_code == 200, response.text
        (form,) = [
            f for f in page_forms(response.text) if f.action.endswith(("/login", "/decision"))
        ]
        if form.action.endswith("/login"):
            data = {**form.fields, "username": "demo", "password": PASSWORD}
        else:
            data = {**form.fields, "decision": "approve"}
        url = url.join(form.action)
        response = await http.post(url, data=data)
    raise AssertionError("never sent back to the redirect URI")


def test_swagger_ui_authorizes_through_mintage_and_tries_a_route(api: Api, page: Any) -> None:
    require_browser()
    elsewhere: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(api.base + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_this_server)
    page.goto(f"{api.base}/docs")
    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux")
    with page.expect_popup() as popup_info:
        dialog.locator(".auth-btn-wrapper button.authorize").first.click()
    popup = popup_info.value
    popup.get_by_label("Username").fill("demo")
    popup.get_by_label("Password").fill(PASSWORD)
    popup.get_by_role("button", name="Sign in").click()
    popup.get_by_role("button", name="Allow").click()
    popup.wait_for_event("close")
    # Swagger UI redeemed the code at the token endpoint: it offers to log out now
    dialog.get_by_role("button", name="Remove authorization").wait_for()
    assert dialog.locator("h6").inner_text() == "Authorized"
    dialog.locator(".auth-btn-wrapper button.btn-done").first.click()
    operation = page.locator("#operations-default-list_orders_orders_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert '"owner"' in operation.locator(".live-responses-table").inner_text()
    assert elsewhere == []
