"""A real webhook receiver for the tests: an aiohttp server on a loopback port that records every request, answers
from a script of statuses (then ``status``), can hold requests until released, and can be stopped and started again
on the same port (a receiver that is down for a while)."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from boxoffice.integrations.verify import verify_webhook


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def signature(self) -> str:
        return self.headers.get("Boxoffice-Signature", "")

    def verified(self, secret: str) -> dict[str, Any]:
        """The event, through the function the README tells integrators to copy."""
        return verify_webhook(self.body, self.headers.get("Boxoffice-Signature"), secret)


@dataclass
class Receiver:
    script: list[int] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    hold: bool = False  # keep each request waiting until ``release`` is set
    release: asyncio.Event = field(default_factory=asyncio.Event)
    body: bytes = b"ok"
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(request.path_qs, dict(request.headers), await request.read()))
        if self.hold:
            await self.release.wait()
        status = self.script.pop(0) if self.script else self.status
        return web.Response(status=status, body=self.body, headers=self.headers)

    async def start(self) -> Receiver:
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = int(s.getsockname()[1])
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def events(self) -> list[dict[str, Any]]:
        return [hit.event for hit in self.hits]

    def first_arrivals(self) -> list[dict[str, Any]]:
        """Each event once, in the order it first arrived (a retried event may arrive again)."""
        seen: set[str] = set()
        out = []
        for event in self.events():
            if event["id"] not in seen:
                seen.add(event["id"])
                out.append(event)
        return out
