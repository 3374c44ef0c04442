"""Server-rendered pages: templates, security headers and the one stylesheet.

Every page answers with headers that keep it out of frames (RFC 6749 §10.13 and
RFC 9700 §4.16: clickjacking) and stop it from loading or posting anything but our own
stylesheet and forms (W3C CSP Level 3).  ``Referrer-Policy: no-referrer`` keeps the
authorization request's URL out of other sites' logs (RFC 9700 §4.2).  Pages with
forms, or that show who is signed in, are never cached (``no-store``): a shared or
back-button copy must not leak a user or a CSRF token.

Templates may be replaced from a directory (``templates_dir``, docs/pages.md): a file
there of a built-in template's name wins over the package's (which stays reachable as
``mintage/<name>``, to extend), and its ``theme.css`` is
served after the built-in stylesheet.  Both are read at start-up, never per request.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import Response

#: What a browser may do with our pages: nothing but our stylesheet and our forms.
#: ``form-action`` also governs where a form post may be redirected in Chromium, so
#: pages whose form ends at a client add that client's origin (see :func:`csp`).
_CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'{extra}; "
    "frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS: Mapping[str, str] = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}

#: Readable descriptions of well-known scopes; any other scope is shown by its name.
SCOPE_DESCRIPTIONS: Mapping[str, str] = {
    "read": "Read your data",
    "write": "Change your data",
    "openid": "Confirm who you are",
    "profile": "See your profile (name, picture)",
    "email": "See your email address",
    "address": "See your postal address",
    "phone": "See your phone number",
    "offline_access": "Stay connected when you are away",
}


def describe_scopes(scopes: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(scope, description) pairs; ``None`` where the scope has no known description."""
    return [(scope, SCOPE_DESCRIPTIONS.get(scope)) for scope in scopes]


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, fit for a CSP source list."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(ch in parts.netloc for ch in " ;,'\"") or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def csp(form_targets: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy, allowing redirects after a form to ``form_targets``.

    ``form_targets`` are redirect URIs registered for the client of the request being
    shown; only their origins are added, and only to that one response.
    """
    origins = sorted({o for o in (origin_of(t) for t in form_targets) if o})
    return _CSP.format(extra="".join(" " + o for o in origins))


#: every template the pages render, compiled at start-up so a broken override fails early
TEMPLATES = (
    "login.html",
    "consent.html",
    "error.html",
    "signed_in.html",
    "logout.html",
    "signed_out.html",
)
#: the optional stylesheet of a templates directory, served at ``/static/theme.css``
THEME = "theme.css"


@functools.cache
def _templates(templates_dir: Path | None) -> tuple[jinja2.Environment, bytes | None]:
    """The templates (those of ``templates_dir`` first) and the theme's stylesheet,
    compiled once per process and directory and shared by every app in it (the test
    suites build hundreds; compiling them is most of an app's construction)."""
    package = jinja2.PackageLoader("mintage.web", "templates")
    loader: jinja2.BaseLoader = package
    theme: bytes | None = None
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise ValueError(f"templates_dir {templates_dir} is not a directory")
        # "mintage/login.html" is always the built-in one: an override can extend it
        # and replace only some blocks.
        builtin = jinja2.PrefixLoader({"mintage": package})
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(templates_dir), package, builtin])
        stylesheet = templates_dir / THEME
        theme = stylesheet.read_bytes() if stylesheet.is_file() else None
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,  # every value is HTML-escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["describe_scopes"] = describe_scopes
    env.globals["theme_stylesheet"] = theme is not None
    for name in TEMPLATES:
        env.get_template(name)  # compile at start-up, fail early
    return env, theme


class Pages:
    """Renders the templates shipped in ``mintage/web/templates``, or those of the same
    name in ``templates_dir`` first; built once."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        #: the environment, and the theme's stylesheet when the templates directory has one
        self.env, self.theme = _templates(templates_dir)
        self.stylesheet = resources.files("mintage.web").joinpath("static/style.css").read_bytes()

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        status: int = 200,
        *,
        headers: Mapping[str, str] | None = None,
        form_targets: tuple[str, ...] = (),
    ) -> Response:
        html = self.env.get_template(name).render(**context)
        response = Response(html, status, media_type="text/html; charset=utf-8")
        secure(response, form_targets)
        response.headers["cache-control"] = "no-store"
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def error(
        self, status: int, title: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Our own error page (never a redirect: RFC 6749 §4.1.2.1, RFC 9700 §4.11)."""
        context = {"title": title, "message": message, "status": status}
        return self.render("error.html", context, status, headers=headers)

    async def style(self, request: Request) -> Response:
        return _stylesheet(self.stylesheet)

    async def theme_style(self, request: Request) -> Response:
        """``theme.css`` of the templates directory (routed only when there is one)."""
        assert self.theme is not None
        return _stylesheet(self.theme)


def _stylesheet(body: bytes) -> Response:
    response = Response(body, media_type="text/css; charset=utf-8")
    secure(response)
    response.headers["cache-control"] = "public, max-age=3600"
    return response


def secure(response: Response, form_targets: tuple[str, ...] = ()) -> Response:
    """Add the security headers every page carries."""
    response.headers["content-security-policy"] = csp(form_targets)
    for key, value in SECURITY_HEADERS.items():
        response.headers[key] = value
    return response
