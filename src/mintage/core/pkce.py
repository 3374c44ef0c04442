"""Proof Key for Code Exchange (RFC 7636): pure checks, no storage.

RFC 9700 §2.1.1 and OAuth 2.1 §4.1.1: ``S256`` is required; ``plain`` is accepted only
when the server enables it.  Both ends of the exchange are checked for syntax, so a
malformed challenge never gets stored and a malformed verifier never gets hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from .errors import InvalidGrantError, InvalidRequestError

S256 = "S256"
PLAIN = "plain"

# §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# §4.2: S256 is BASE64URL(SHA256(verifier)) without padding: always 43 characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    """``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(
    challenge: str | None, method: str | None, *, required: bool, allow_plain: bool
) -> tuple[str | None, str | None]:
    """Validate the challenge of an authorization request (RFC 7636 §4.3, §4.4.1).

    Returns ``(challenge, method)`` to store, or ``(None, None)`` when the client sent
    none and may omit it.  Raises :class:`InvalidRequestError` (redirected to the client).
    """
    if challenge is None:
        if method is not None:
            raise InvalidRequestError("code_challenge_method was sent without code_challenge")
        if required:
            raise InvalidRequestError("code_challenge is required (PKCE with S256)")
        return None, None
    # §4.3: "Defaults to plain if not present in the request."
    method = method or PLAIN
    if method == S256:
        if not _S256_CHALLENGE.fullmatch(challenge):
            raise InvalidRequestError("code_challenge must be 43 base64url characters for S256")
        return challenge, S256
    if method == PLAIN:
        if not allow_plain:
            raise InvalidRequestError("code_challenge_method must be S256")
        if not _VERIFIER.fullmatch(challenge):
            raise InvalidRequestError("code_challenge must be 43 to 128 unreserved characters")
        return challenge, PLAIN
    # §4.4.1: an unsupported transformation is invalid_request.
    raise InvalidRequestError("code_challenge_method must be S256")


def check_verifier_syntax(verifier: str) -> None:
    """RFC 7636 §4.1: 43 to 128 characters of ``[A-Za-z0-9-._~]``."""
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidRequestError("code_verifier must be 43 to 128 unreserved characters")


def verify(verifier: str | None, challenge: str | None, method: str | None) -> None:
    """Check the token request's verifier against the stored challenge (RFC 7636 §4.6).

    A verifier without a stored challenge is refused too: accepting it would let an
    attacker who injected a code obtained without PKCE pass as a PKCE client (the PKCE
    downgrade attack, RFC 9700 §2.1.1, §4.8.2).
    """
    if challenge is None:
        if verifier is not None:
            raise InvalidGrantError("code_verifier was sent but no code_challenge was")
        return
    if verifier is None:
        raise InvalidRequestError("missing parameter code_verifier")
    check_verifier_syntax(verifier)
    computed = s256(verifier) if method == S256 else verifier
    if not hmac.compare_digest(computed.encode("ascii"), challenge.encode("ascii")):
        raise InvalidGrantError("code_verifier does not match the code_challenge")
