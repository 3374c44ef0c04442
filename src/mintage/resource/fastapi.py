"""FastAPI integration: ``require_scopes`` (needs ``pip install 'mintage[fastapi]'``).

::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from mintage.resource import AccessToken, verifier_for_issuer
    from mintage.resource.fastapi import install_error_handler, require_scopes

    verifier = verifier_for_issuer("https://auth.example.com")
    app = FastAPI()
    install_error_handler(app)
    OrdersReader = Annotated[AccessToken, Depends(require_scopes("orders:read", verifier=verifier))]

    @app.get("/orders")
    async def orders(token: OrdersReader) -> list[str]:
        ...

With FastAPI's ``Security(..., scopes=[...])`` convention and an OAuth 2.0 security
scheme, the OpenAPI document shows the flow and the scopes of each route, and Swagger
UI's "Authorize" button gets a token from the authorization server
(``examples/fastapi_app.py``)::

    from fastapi import Security
    from mintage.resource.fastapi import authorization_code_scheme

    scheme = authorization_code_scheme("https://auth.example.com", {"orders:read": "…"})
    verify = require_scopes(verifier=verifier, scheme=scheme)
    OrdersReader = Annotated[AccessToken, Security(verify, scopes=["orders:read"])]

Declare such ``Annotated`` aliases at module level (or do without ``from __future__
import annotations``): FastAPI resolves string annotations in the module's globals, and
an alias local to a function would silently become a query parameter.

Refusals are ``BearerHTTPException`` (an ``HTTPException``) with the status and the
``WWW-Authenticate`` challenge of RFC 6750 §3.  :func:`install_error_handler` makes their
body the same ``{"error", "error_description"}`` JSON that
:class:`~.middleware.BearerAuthMiddleware` sends; without it FastAPI's default handler
nests it under ``"detail"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.responses import Response
from fastapi.security import (
    HTTPBearer,
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    SecurityScopes,
)

from ..core.paths import ENDPOINT_PATHS
from .bearer import bearer_token
from .errors import OAuthError, error_body, error_headers, raise_unless_scopes, safe_realm
from .middleware import STATE_KEY
from .token import AccessToken
from .verifier import TokenVerifier

__all__ = [
    "BearerHTTPException",
    "authorization_code_scheme",
    "install_error_handler",
    "require_scopes",
]

# Declares the scheme in the OpenAPI document (the "Authorize" button); the header is
# parsed by ``bearer_token`` below, which follows RFC 6750 more closely.
_openapi_scheme = HTTPBearer(auto_error=False, description="An access token from the issuer")


class BearerHTTPException(HTTPException):
    """An RFC 6750 refusal; ``oauth_error`` is the error that caused it."""

    def __init__(self, oauth_error: OAuthError, realm: str) -> None:
        self.oauth_error = oauth_error
        super().__init__(
            status_code=oauth_error.status_code,
            detail=oauth_error.body() or None,
            headers=error_headers(oauth_error, realm),
        )


def authorization_code_scheme(
    issuer: str, scopes: Mapping[str, str] | None = None, *, description: str | None = None
) -> OAuth2AuthorizationCodeBearer:
    """The OpenAPI security scheme of a Mintage issuer's authorization code flow: its
    authorization and token endpoints (RFC 6749 §3.1, §3.2; the paths of
    ``core/paths.py``), and the ``scopes`` a user may grant, by description.

    It never refuses a request itself (``auto_error=False``): :func:`require_scopes`
    does, with RFC 6750 errors.
    """
    issuer = issuer.rstrip("/")
    token_url = issuer + ENDPOINT_PATHS["token_endpoint"]
    return OAuth2AuthorizationCodeBearer(
        authorizationUrl=issuer + ENDPOINT_PATHS["authorization_endpoint"],
        tokenUrl=token_url,
        refreshUrl=token_url,
        scopes=dict(scopes or {}),
        description=description,
        auto_error=False,
    )


def require_scopes(
    *scopes: str,
    verifier: TokenVerifier | None = None,
    realm: str = "api",
    allow_query_token: bool = False,
    scheme: OAuth2 | HTTPBearer | None = None,
) -> Callable[..., Awaitable[AccessToken]]:
    """A dependency that returns the request's verified token having every ``scope``,
    and every scope of the ``Security(..., scopes=[...])`` declarations that use it.

    The token :class:`~.middleware.BearerAuthMiddleware` verified is used when there is
    one; otherwise ``verifier`` checks the request's bearer token (and the result is
    left in ``request.state.access_token`` for other dependencies).  Raises
    :class:`BearerHTTPException`: 401 ``invalid_token``, 400 ``invalid_request``, 403
    ``insufficient_scope`` (RFC 6750 §3.1), 503 when the issuer cannot be reached.

    ``scheme`` is the security scheme of the OpenAPI document (by default a plain
    bearer scheme; :func:`authorization_code_scheme` for the OAuth 2.0 flow).  It only
    documents: the header is parsed here, closer to RFC 6750, so a scheme of one's own
    must not refuse requests itself (``auto_error=False``).
    """
    realm = safe_realm(realm)
    documented: OAuth2 | HTTPBearer = scheme if scheme is not None else _openapi_scheme

    async def dependency(
        request: Request,
        security_scopes: SecurityScopes,
        _: object = Security(documented, scopes=list(scopes)),
    ) -> AccessToken:
        token = request.scope.get("state", {}).get(STATE_KEY)
        try:
            if not isinstance(token, AccessToken):
                if verifier is None:
                    raise RuntimeError(
                        "require_scopes needs verifier=... or BearerAuthMiddleware in front"
                    )
                value = bearer_token(
                    request.scope["headers"],
                    request.scope.get("query_string", b""),
                    allow_query=allow_query_token,
                )
                token = await verifier.verify(value)
                request.scope.setdefault("state", {})[STATE_KEY] = token
            # ours first, then the Security(...) declarations': FastAPI lists every
            # enclosing declaration's scopes (ours included, as the scheme's parent)
            raise_unless_scopes(token.scopes, dict.fromkeys((*scopes, *security_scopes.scopes)))
        except OAuthError as exc:
            raise BearerHTTPException(exc, realm) from None
        return token

    return dependency


async def bearer_error_handler(request: Request, exc: Exception) -> Response:
    """Renders :class:`BearerHTTPException` as RFC 6750 JSON (``{"error", ...}``)."""
    assert isinstance(exc, BearerHTTPException)
    return Response(
        error_body(exc.oauth_error),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


def install_error_handler(app: FastAPI) -> None:
    """Answer refusals with the same body as the middleware (one line at start-up)."""
    app.add_exception_handler(BearerHTTPException, bearer_error_handler)
