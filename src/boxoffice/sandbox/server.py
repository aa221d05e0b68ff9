"""``run_sandbox``: the sandbox served by Uvicorn in the current event loop, for tests and tools."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from boxoffice.sandbox.app import create_sandbox_app
from boxoffice.sandbox.config import SandboxConfig
from boxoffice.sandbox.state import Sandbox

DEFAULT_API_KEY = "sk_test_sandbox"


@dataclass(frozen=True)
class RunningSandbox:
    url: str
    """Base URL of the sandbox (prefix included): the SDK's ``base_addresses["api"]``."""
    sandbox: Sandbox


@asynccontextmanager
async def run_sandbox(
    host: str = "127.0.0.1", port: int = 0, *, prefix: str = "", **config: Any
) -> AsyncIterator[RunningSandbox]:
    """Serve a started sandbox on ``host:port`` (a free port by default), optionally mounted under ``prefix``
    (``"/_sandbox_stripe"``). ``config`` holds ``SandboxConfig`` fields; ``api_keys`` defaults to
    ``{"sk_test_sandbox"}`` and ``public_url`` to the served URL."""
    prefix = prefix.rstrip("/")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.setblocking(False)
    bound = sock.getsockname()[1]
    url = f"http://{f'[{host}]' if ':' in host else host}:{bound}{prefix}"
    config.setdefault("api_keys", {DEFAULT_API_KEY})
    config.setdefault("public_url", url)
    sandbox = Sandbox(SandboxConfig(**config))
    app = create_sandbox_app(sandbox)
    served = Starlette(routes=[Mount(prefix, app)]) if prefix else app
    server = uvicorn.Server(
        uvicorn.Config(
            served,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            server_header=False,
        )
    )
    await sandbox.start()
    task = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox-server")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the sandbox server stopped during start-up")
            await asyncio.sleep(0.01)
        yield RunningSandbox(url, sandbox)
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()
        sock.close()
