"""Rate limits as the engine sees them: buckets, keys, and a counter behind a protocol.

RFC 6749 §10.10 asks the server to stop the guessing of credentials, and RFC 9700 §4.16
(and OAuth 2.1 §7.4) to keep one party from exhausting the server; RFC 6585 §4 gives the
answer, 429 with ``Retry-After``.  The engine decides *what* is counted (requests per
address, failed client authentications and requests per authenticated client at the
token, introspection and revocation endpoints: :mod:`mintage.core.client_throttle`;
failed sign-ins per address and per username: :mod:`mintage.core.login_throttle`);
*how* it is counted (windows, Redis or process memory) is a :class:`RateLimiter` built
outside core (``mintage.ratelimits``), so core imports no limiter library.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Protocol

from .errors import TooManyRequestsError

#: the endpoints that count requests (the ``endpoint`` label of the metrics)
TOKEN = "token"
INTROSPECTION = "introspection"
REVOCATION = "revocation"
LOGIN = "login"

#: keys longer than this are counted under their digest: a client id or username comes
#: from the request, and a 16 KiB one must not become a 16 KiB key in Redis
_MAX_KEY = 64


@dataclass(frozen=True, slots=True)
class Bucket:
    """One configured limit, as counted at one endpoint.

    ``name`` is the setting that configures it and the namespace its counts live in:
    buckets with the same name share their counts (failed client authentications count
    alike at the three endpoints that authenticate clients).  ``endpoint`` and ``limit``
    label the rejections in the metrics.
    """

    name: str
    endpoint: str
    limit: str


def per_ip(endpoint: str) -> Bucket:
    return Bucket(f"{endpoint}_rate_limit_per_ip", endpoint, "per_ip")


def per_client(endpoint: str) -> Bucket:
    return Bucket(f"{endpoint}_rate_limit_per_client", endpoint, "per_client")


def failed_auth_per_ip_client(endpoint: str) -> Bucket:
    return Bucket("failed_auth_rate_limit_per_ip_client", endpoint, "failed_auth")


def failed_auth_per_ip(endpoint: str) -> Bucket:
    return Bucket("failed_auth_rate_limit_per_ip", endpoint, "failed_auth")


LOGIN_PER_IP = per_ip(LOGIN)
LOGIN_PER_USERNAME = Bucket("login_rate_limit_per_username", LOGIN, "per_username")

#: every limit name; each is a setting of the same name (a test keeps them in step)
LIMIT_NAMES: tuple[str, ...] = (
    *(b.name for e in (TOKEN, INTROSPECTION, REVOCATION) for b in (per_ip(e), per_client(e))),
    LOGIN_PER_IP.name,
    LOGIN_PER_USERNAME.name,
    failed_auth_per_ip_client(TOKEN).name,
    failed_auth_per_ip(TOKEN).name,
)


class RateLimiter(Protocol):
    """Counts events per bucket and key in time windows."""

    async def hit(self, bucket: Bucket, key: str) -> int | None:
        """Count one event; ``None`` while within the limit, else the seconds to wait."""
        ...

    async def exhausted(self, bucket: Bucket, key: str) -> int | None:
        """Without counting: ``None`` while another event fits, else the seconds to wait."""
        ...

    def rejected(self, bucket: Bucket) -> None:
        """A request was refused (429) because of ``bucket``: for the metrics."""
        ...


class NoRateLimits:
    """The limiter of an engine built without one: nothing is ever limited."""

    async def hit(self, bucket: Bucket, key: str) -> int | None:
        return None

    async def exhausted(self, bucket: Bucket, key: str) -> int | None:
        return None

    def rejected(self, bucket: Bucket) -> None:
        return None


NO_RATE_LIMITS = NoRateLimits()


@functools.lru_cache(maxsize=4096)
def _ipv6_key(address: str) -> str:
    try:
        ip = ipaddress.IPv6Address(address.partition("%")[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    # One host usually holds a whole /64 (RFC 7421): counting single addresses would
    # let it take 2^64 fresh ones.
    return str(ipaddress.IPv6Network((ip, 64), strict=False).network_address) + "/64"


def address_key(client_ip: str | None) -> str | None:
    """The key an address is counted under: IPv4 as is, IPv6 by its /64 prefix."""
    if client_ip is None or ":" not in client_ip:
        return client_ip
    return _ipv6_key(client_ip)


def value_key(value: str) -> str:
    """A client id or username as a key; long ones by digest (bounded key size)."""
    if len(value) <= _MAX_KEY:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


_REFUSED = {
    "per_ip": "too many requests from this address",
    "per_client": "too many requests for this client",
    "per_username": "too many sign-in attempts for this username",
    "failed_auth": "too many failed client authentications",
}


def refusal(limiter: RateLimiter, bucket: Bucket, retry_after: int) -> TooManyRequestsError:
    """The 429 for a request refused by ``bucket``, told to the metrics."""
    limiter.rejected(bucket)
    return TooManyRequestsError(_REFUSED[bucket.limit], retry_after=retry_after)
