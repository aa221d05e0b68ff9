"""Request body limits for every route, enforced while the body streams in.

Each path prefix has its own limit (the longest matching prefix wins; anything else gets ``DEFAULT_LIMIT``). A
declared ``Content-Length`` over the limit is refused before one byte is read; a body without one (chunked) is
counted as it arrives, and the request is answered with 413 problem+json as soon as the count passes the limit,
so no body over its limit is ever held in memory. The application never sees the rest of the body: its
``receive`` then raises, and whatever the application tries to answer after that is dropped (the 413 went first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boxoffice.payments.keys import SANDBOX_PATH

API_LIMIT = 64 * 1024  # JSON bodies of the REST API
WEBHOOK_LIMIT = 512 * 1024  # Stripe's events (Stripe documents no maximum; ours are a few KiB)
SANDBOX_LIMIT = 256 * 1024  # the Stripe SDK's form-encoded calls to the local sandbox
DEFAULT_LIMIT = 32 * 1024  # buyer pages' form posts and anything else
LIMITS: tuple[tuple[str, int], ...] = (
    ("/api/", API_LIMIT),
    ("/webhooks/", WEBHOOK_LIMIT),
    (SANDBOX_PATH + "/", SANDBOX_LIMIT),
)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, limits: Sequence[tuple[str, int]] = LIMITS, default: int = DEFAULT_LIMIT
    ) -> None:
        self.app, self.default = app, default
        self.limits = sorted(limits, key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await reject(send, limit)
            return
        seen = 0
        started = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started:
                        answered = True
                        await reject(send, limit)
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 is out; the application's own answer to the broken read is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not answered:
                raise  # includes BodyTooLarge after the response had started: the connection is dropped


async def reject(send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "https://boxoffice.dev/problems/too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": f"request bodies here are limited to {limit} bytes",
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
