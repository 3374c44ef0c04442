"""Redirect URI matching (RFC 6749 §3.1.2, RFC 8252 §7.3 and §8.3, OAuth 2.1 §2.3)."""

from __future__ import annotations

import pytest

from mintage.core.redirect_uri import match_redirect_uri, redirect_uri_matches

WEB = "https://app.example/cb"


@pytest.mark.parametrize(
    "requested",
    [
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://app.example/CB",
        "https://APP.example/cb",
        "https://app.example:443/cb",
        "http://app.example/cb",
        "https://app.example/cb#",
        "https://app.example/cb#frag",
        "https://app.example.evil/cb",
        "https://app.example/c",
        "https://user@app.example/cb",
    ],
)
def test_exact_string_match_only(requested: str) -> None:
    assert redirect_uri_matches(WEB, WEB)
    assert not redirect_uri_matches(requested, WEB)
    assert match_redirect_uri(requested, (WEB,)) is None


@pytest.mark.parametrize(
    ("registered", "requested"),
    [
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9999/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"),
        ("http://[::1]/cb", "http://[::1]:61000/cb"),
        ("http://[::1]:1/cb?app=x", "http://[::1]:2/cb?app=x"),
    ],
)
def test_loopback_ip_matches_any_port(registered: str, requested: str) -> None:
    assert redirect_uri_matches(requested, registered)
    assert match_redirect_uri(requested, (WEB, registered)) == requested


@pytest.mark.parametrize(
    ("registered", "requested"),
    [
        # RFC 8252 §8.3: localhost is not loopback for matching; exact only
        ("http://localhost/cb", "http://localhost:51234/cb"),
        ("http://localhost:8080/cb", "http://localhost:9999/cb"),
        # the path and query must still match
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb/"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/other"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb?x=1"),
        ("http://127.0.0.1/cb?a=1", "http://127.0.0.1:5000/cb?a=2"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb#frag"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb#"),
        # other hosts, schemes, the IPv4 and IPv6 loopbacks are not interchangeable
        ("http://127.0.0.1/cb", "http://127.0.0.2:5000/cb"),
        ("http://127.0.0.1/cb", "https://127.0.0.1:5000/cb"),
        ("https://127.0.0.1/cb", "https://127.0.0.1:5000/cb"),
        ("http://127.0.0.1/cb", "http://[::1]:5000/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example:5000/cb"),
        ("http://127.0.0.1/cb", "http://evil@127.0.0.1:5000/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:notaport/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
        ("https://app.example/cb", "http://127.0.0.1:5000/cb"),
    ],
)
def test_loopback_leeway_is_the_port_only(registered: str, requested: str) -> None:
    assert not redirect_uri_matches(requested, registered)
    assert match_redirect_uri(requested, (registered,)) is None


def test_omitted_only_with_exactly_one_registered() -> None:
    assert match_redirect_uri(None, (WEB,)) == WEB
    assert match_redirect_uri(None, (WEB, "https://app.example/other")) is None
    assert match_redirect_uri(None, ()) is None


def test_the_requested_uri_is_the_one_used() -> None:
    other = "https://app.example/other"
    assert match_redirect_uri(other, (WEB, other)) == other
    assert match_redirect_uri(WEB, ()) is None
