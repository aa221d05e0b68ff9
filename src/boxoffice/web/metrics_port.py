"""The internal metrics listener (``BOXOFFICE_METRICS_PORT``): ``boxoffice serve`` also listens on
``127.0.0.1:<port>`` and answers ``GET /metrics`` there without a token, and nothing else (404).

Bound to the loopback interface only, it is reachable from the host itself (a Prometheus agent or a node exporter's
sidecar on it, or an SSH tunnel), never from the network, whatever ``--host`` the service listens on. It runs in the
``boxoffice serve`` process, in a thread of its own with its own event loop and database connection: with one worker
it reads that process's metrics; with several, prometheus_client's multiprocess folder of every worker (the same
figures a scrape of the public port gives with ``BOXOFFICE_METRICS_TOKEN``). The public port serves ``/metrics``
only when a token is set, as before.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from boxoffice.db import Database
from boxoffice.web.metrics import DatabaseGauges, exposition

HOST = "127.0.0.1"


def create_metrics_app(database_url: str) -> Starlette:
    """An app serving ``GET /metrics`` alone, unauthenticated (it listens on the loopback interface only)."""
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        db = Database(database_url, pool_size=1)
        gauges = DatabaseGauges(db)
        state.update(gauges=gauges, registry=exposition(gauges))
        try:
            yield
        finally:
            await db.dispose()

    async def scrape(request: Request) -> Response:
        gauges = state["gauges"]
        assert isinstance(gauges, DatabaseGauges)
        await gauges.refresh()
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(state["registry"]), media_type=content_type)  # type: ignore[arg-type]

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("only /metrics is served on this port\n", status_code=404)

    return Starlette(
        routes=[Route("/metrics", scrape, methods=["GET"])], lifespan=lifespan, exception_handlers={404: not_found}
    )


def bind(port: int) -> socket.socket:
    """The listening socket on 127.0.0.1:``port`` (raises ``OSError`` when the port is taken)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)  # never passed on to the web workers
    return sock


class MetricsListener:
    """Serves ``create_metrics_app`` on a bound socket from a daemon thread; ``stop`` ends it."""

    def __init__(self, database_url: str, sock: socket.socket, *, log_level: str = "warning") -> None:
        import uvicorn

        self.sock = sock
        config = uvicorn.Config(
            create_metrics_app(database_url),
            log_level=log_level.lower(),
            access_log=False,
            server_header=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="boxoffice-metrics", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> MetricsListener:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
