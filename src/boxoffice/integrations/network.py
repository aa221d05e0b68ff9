"""The HTTP client of webhook deliveries: every new connection resolves its host, checks every address it resolves
to against the policy (``addresses.refusal``) and connects to a checked address, never resolving again. Redirects
are not followed, proxies from the environment are not used (they would bypass the check).

httpx takes no network backend of its own; its transport's connection pool is rebuilt here with one
(``PinnedTransport``), so a pooled connection is always one to a checked address, TLS is verified against the
URL's host name (SNI and certificate), and connections are pooled per host name, not per address.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from boxoffice.integrations.addresses import parse_ip, refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]
USER_AGENT = "Boxoffice-Webhooks/1.0"


class AddressRefused(Exception):
    """The host resolves to (or is) an address no webhook may go to; nothing was sent."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the operating system's resolver, without blocking the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address (trying each in turn)."""

    def __init__(self, resolve: Resolver, *, allow_loopback: bool) -> None:
        self.resolve = resolve
        self.allow_loopback = allow_loopback
        self._inner = httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        literal = parse_ip(host)
        try:
            addresses = [str(literal)] if literal is not None else await self.resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            ip = parse_ip(address)
            reason = "unreadable address" if ip is None else refusal(ip, allow_loopback=self.allow_loopback)
            if reason is not None:
                raise AddressRefused(f"{host} resolves to a {reason} ({address}): webhooks only go to public addresses")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.checked_addresses(host, port):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks are never sent to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections go through ``PinnedBackend``."""

    def __init__(self, backend: PinnedBackend, *, max_connections: int) -> None:
        super().__init__(retries=0, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


def make_client(
    *, timeout: float, max_connections: int, allow_loopback: bool, resolve: Resolver = system_resolver
) -> httpx.AsyncClient:
    backend = PinnedBackend(resolve, allow_loopback=allow_loopback)
    return httpx.AsyncClient(
        transport=PinnedTransport(backend, max_connections=max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )
