"""Pages re-themed from ``MINTAGE_TEMPLATES_DIR`` (docs/pages.md): overrides win over the
built-in templates, ``theme.css`` is served beside the stylesheet, the CSP stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintage.web.rendering import Pages
from oauth_testkit import MakeServer, page_forms


async def test_an_override_fills_the_blocks_and_keeps_the_form(
    make_server: MakeServer, tmp_path: Path
) -> None:
    (tmp_path / "login.html").write_text(
        '{% extends "base.html" %}\n'
        "{% block brand %}Acme Corp{% endblock %}\n"
        "{% block title %}Acme sign-in{% endblock %}\n"
        "{% block footer %}<p class=legal>Acme terms</p>{% endblock %}\n"
        '{% block content %}<h1 id="page-title">Welcome to Acme</h1>'
        '<form method="post" action="{{ base }}/login">'
        '<input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
        '<input type="hidden" name="return_to" value="{{ return_to }}">'
        '<input name="username" value="{{ username }}"><input name="password" type="password">'
        "<button>Go</button></form>{% endblock %}\n"
    )
    (tmp_path / "theme.css").write_text(":root { --accent: #0f766e; }\n")
    server = await make_server(templates_dir=tmp_path)
    await server.user("alice")
    page = await server.http.get("/login")
    assert page.status_code == 200
    html = page.text
    assert "Acme Corp" in html and "Welcome to Acme" in html and "Acme terms" in html
    assert "<title>Acme sign-in · Mintage</title>" in html
    assert '/static/theme.css"' in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    theme = await server.http.get("/static/theme.css")
    assert theme.status_code == 200 and "#0f766e" in theme.text
    assert theme.headers["content-type"].startswith("text/css")
    # the consent and error pages keep the built-in templates
    assert "Mintage</p>" in (await server.http.get("/oauth/authorize")).text
    (form,) = page_forms(html)
    data = {**form.fields, "username": "alice", "password": "correct horse battery staple"}
    signed_in = await server.http.post("/login", data=data)
    assert signed_in.status_code == 303


async def test_without_a_theme_there_is_no_theme_stylesheet(make_server: MakeServer) -> None:
    server = await make_server()
    assert "theme.css" not in (await server.http.get("/login")).text
    assert (await server.http.get("/static/theme.css")).status_code == 404


def test_a_missing_directory_or_a_broken_template_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        Pages(tmp_path / "nowhere")
    (tmp_path / "error.html").write_text("{% block content %}")
    with pytest.raises(Exception, match="block"):
        Pages(tmp_path)
