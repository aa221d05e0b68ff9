"""Who is asking: the client's address, and the keyed hash of it that limits and orders store.

The address is the socket peer's, unless ``BOXOFFICE_TRUSTED_PROXY_HEADER`` names a header that a reverse proxy in
front of Boxoffice sets (``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded``...). Then it is the right-most address
in that header: the one the trusted proxy itself appended, which a client cannot forge (everything to its left
came from the client). Exactly one trusted proxy hop is assumed; behind a chain of proxies, have the outermost one
set a header of its own (``X-Real-IP``) and name that. A header that is missing or holds no valid address falls back
to the peer. Never set the header without a proxy that overwrites or appends it: clients could then choose their
address and escape the limits.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress

from starlette.requests import HTTPConnection

UNKNOWN = "unknown"


def _valid(candidate: str) -> str | None:
    value = candidate.strip().strip('"')
    if value.startswith("[") and "]" in value:  # [v6]:port (Forwarded)
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _from_header(name: str, values: list[str]) -> str | None:
    if not values:
        return None
    last = values[-1].split(",")[-1]
    if name.lower() == "forwarded":  # RFC 7239: for=192.0.2.1;proto=https
        for part in last.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "for":
                return _valid(value)
        return None
    return _valid(last)


def client_address(request: HTTPConnection) -> str:
    """The client's address (see the module's docstring for the trusted proxy header)."""
    box = getattr(request.app.state, "box", None)
    header = getattr(getattr(box, "settings", None), "trusted_proxy_header", None)
    if header:
        found = _from_header(header, request.headers.getlist(header))
        if found is not None:
            return found
    return request.client.host if request.client is not None else UNKNOWN


@functools.lru_cache(maxsize=4096)
def address_key(secret: bytes, address: str) -> str:
    """A keyed hash of an address: what orders and the rate limiter keep (never the address itself). Kept per
    process for the addresses seen last: a client sends many requests (a pure function of its arguments)."""
    return hmac.new(secret, b"client-address:" + address.encode(), hashlib.sha256).hexdigest()[:32]
