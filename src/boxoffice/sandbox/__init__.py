"""A local, stateful Stripe sandbox that the official SDK talks to unchanged through ``STRIPE_API_BASE``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from boxoffice.sandbox.app import create_sandbox_app
from boxoffice.sandbox.state import Faults, Sandbox, SandboxConfig, SandboxError


@dataclass
class RunningSandbox:
    url: str
    sandbox: Sandbox


@asynccontextmanager
async def run_sandbox(host: str = "127.0.0.1", port: int = 0, **config: Any) -> AsyncIterator[RunningSandbox]:
    """Serve a sandbox with Uvicorn in the current event loop (a free port by default)."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    url = f"http://{host}:{sock.getsockname()[1]}"
    config.setdefault("api_keys", {"sk_test_sandbox"})
    sandbox = Sandbox(SandboxConfig(public_url=url, **config))
    await sandbox.start()
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(sandbox), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    try:
        yield RunningSandbox(url, sandbox)
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()
        sock.close()


__all__ = ["Faults", "RunningSandbox", "Sandbox", "SandboxConfig", "SandboxError", "create_sandbox_app", "run_sandbox"]
