"""A real Boxoffice HTTP server for tests: Uvicorn in the test's event loop on a free loopback port.

The sandbox sends its webhooks over HTTP to ``public_url/webhooks/stripe``, so tests that pay need a real socket.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from boxoffice.container import Boxoffice
from boxoffice.settings import Settings
from boxoffice.web.app import create_app


class Cable:
    """The network between the browsers and the API, as a test sees it: unplugged, every ``/api/`` request answers
    503 and reaches nothing. Browser offline emulation does not cover every request of a page a service worker
    controls (Playwright issue 2311), so a test that must be sure nothing got through pulls this too."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.unplugged = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.unplugged and scope["type"] == "http" and scope["path"].startswith("/api/"):
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


@dataclass
class LiveServer:
    url: str
    box: Boxoffice
    client: httpx.AsyncClient
    cable: Cable = field(default_factory=lambda: Cable(None))


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it: no 40 ms ACK waits
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": "test-secret-key-for-signing-ticket-codes",
        "sweep_interval_seconds": 0.5,
        "mail_dir": overrides.pop("mail_dir", "var/test-mail"),
        "log_level": "WARNING",
        # Every test client is 127.0.0.1: the order rate limit per address is off unless a test turns it on (the
        # held-ticket caps keep their defaults).
        "order_rate_per_minute": 0,
        # Pages show each change at once: tests change an event and read its page again within the second a page is
        # kept (tests/web/pages/test_kept_pages.py keeps them, on a clock of its own).
        "page_cache_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def live_server(
    database_url: str, *, box: Boxoffice | None = None, **overrides: Any
) -> AsyncIterator[LiveServer]:
    sock = free_socket()
    host, port = sock.getsockname()
    url = f"http://{host}:{port}"
    if box is None:
        box = Boxoffice(settings_for(database_url, public_url=url, **overrides))
    cable = Cable(create_app(box=box))
    config = uvicorn.Config(
        cable,
        log_level="warning",
        lifespan="on",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,  # as `boxoffice serve` does (10 s): open live streams do not hold up the stop
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        try:
            yield LiveServer(url, box, client, cable)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 30)
            sock.close()
