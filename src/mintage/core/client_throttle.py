"""The rate limits of client authentication: who is counted, and when.

RFC 6749 §10.10 asks the server to stop the guessing of client credentials, RFC 9700
§4.16 to keep one party from exhausting the server.  Client ids are public (they sit in
URLs and browser code), so nothing counted under a client id alone may be spent by
someone who lacks its secret: otherwise anyone could lock a client out from everywhere
by naming it.  Hence three stages:

* every request, per address (``{endpoint}_rate_limit_per_ip``);
* failed client authentications, per address and per (address, claimed client id)
  (``failed_auth_rate_limit_per_ip`` and ``failed_auth_rate_limit_per_ip_client``);
* requests of an *authenticated* client, per client id
  (``{endpoint}_rate_limit_per_client``).  A public client "authenticates" with
  ``none`` by naming its id (RFC 6749 §2.1), which anyone can do, so its requests are
  counted per (address, client id) under the same setting instead.

Requests from an unknown address (a Unix socket without forwarded headers) are not
counted in the address-keyed buckets: lumping them under one key would let one sender
spend everyone's budget, the very lock-out these limits exist to prevent.
"""

from __future__ import annotations

from .ratelimit import (
    NO_RATE_LIMITS,
    TOKEN,
    NoRateLimits,
    RateLimiter,
    address_key,
    failed_auth_per_ip,
    failed_auth_per_ip_client,
    per_client,
    per_ip,
    refusal,
    value_key,
)


class ClientThrottle:
    """The limits of one endpoint that authenticates clients (token, introspection,
    revocation), raising :class:`TooManyRequestsError` (429).

    Once an address, or an address and client id, has used up its failed
    authentications, it is refused until the window ends *even with the right secret*:
    otherwise the one answer that is not a 429 would tell the guesser which guess was
    right.  Other addresses are unaffected, so the right secret keeps working from the
    client's own address while someone else hammers.  Guessing across many addresses
    gains nothing either: client secrets are 256-bit random values (core/clients.py),
    and no number of addresses makes 2^256 guesses.
    """

    __slots__ = ("_failed_ip", "_failed_ip_client", "_per_client", "_per_ip", "enabled", "limiter")

    def __init__(self, limiter: RateLimiter, endpoint: str) -> None:
        self.limiter = limiter
        #: ``False`` for :class:`NoRateLimits`: callers skip even computing the keys
        self.enabled = not isinstance(limiter, NoRateLimits)
        self._per_ip = per_ip(endpoint)
        self._per_client = per_client(endpoint)
        self._failed_ip = failed_auth_per_ip(endpoint)
        self._failed_ip_client = failed_auth_per_ip_client(endpoint)

    async def admit(self, client_ip: str | None) -> None:
        """Count a request against its address, before anything else is looked at."""
        ip = address_key(client_ip)
        if ip is not None:
            retry_after = await self.limiter.hit(self._per_ip, ip)
            if retry_after is not None:
                raise refusal(self.limiter, self._per_ip, retry_after)

    async def check_auth(self, client_ip: str | None, client_id: str) -> None:
        """Before a secret is verified: refuse an address, or an address and client id,
        whose failed authentications are exhausted (counting nothing)."""
        ip = address_key(client_ip)
        if ip is None:
            return
        retry_after = await self.limiter.exhausted(self._failed_ip, ip)
        if retry_after is not None:
            raise refusal(self.limiter, self._failed_ip, retry_after)
        retry_after = await self.limiter.exhausted(self._failed_ip_client, _pair(ip, client_id))
        if retry_after is not None:
            raise refusal(self.limiter, self._failed_ip_client, retry_after)

    async def auth_failed(self, client_ip: str | None, client_id: str) -> None:
        """Count a failed client authentication (the answer stays ``invalid_client``)."""
        ip = address_key(client_ip)
        if ip is not None:
            await self.limiter.hit(self._failed_ip, ip)
            await self.limiter.hit(self._failed_ip_client, _pair(ip, client_id))

    async def authenticated(self, client_ip: str | None, client_id: str, *, public: bool) -> None:
        """Count a request of an authenticated client: per client id, or for a public
        client (which anyone can name) per address and client id."""
        if not public:
            key: str | None = value_key(client_id)
        else:
            ip = address_key(client_ip)
            key = None if ip is None else _pair(ip, client_id)
        if key is not None:
            retry_after = await self.limiter.hit(self._per_client, key)
            if retry_after is not None:
                raise refusal(self.limiter, self._per_client, retry_after)


def _pair(ip: str, client_id: str) -> str:
    # An address key holds no space (IPv4, or an IPv6 prefix), so the first space
    # separates the two parts whatever the client id holds.
    return ip + " " + value_key(client_id)


#: the client throttle of an engine without limits
NO_CLIENT_THROTTLE = ClientThrottle(NO_RATE_LIMITS, TOKEN)
