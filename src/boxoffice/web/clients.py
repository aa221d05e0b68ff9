"""Who is asking: the one place the HTTP layer reads a client's address (swap it here to trust a proxy's
forwarded address)."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"
