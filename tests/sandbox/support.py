"""Helpers for the sandbox tests: the SDK client, checkout parameters, a webhook receiver, polling, OpenAPI checks."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

KEY = "sk_test_sandboxtests0000000000000001"
OTHER_KEY = "rk_test_sandboxtests0000000000000002"
SECRET = "whsec_sandboxtests_primary_00000000001"
OLD_SECRET = "whsec_sandboxtests_previous_0000000002"
FAST_RETRIES = [0.05, 0.1, 0.2]


def shared_dir() -> Path:
    """``/work/main/../shared``: Stripe's reference material the sandbox is built from."""
    return Path(__file__).resolve().parents[2] / ".." / "shared"


def sdk(url: str, key: str = KEY, *, timeout: float = 10, **options: Any) -> stripe.StripeClient:
    """The official client as Boxoffice builds it: async methods over HTTPX."""
    return stripe.StripeClient(
        key, base_addresses={"api": url}, http_client=stripe.HTTPXClient(timeout=timeout), **options
    )


def checkout_params(**overrides: Any) -> Any:
    """What Boxoffice sends for two 15.00 tickets and a 3.00 tip (README section 1). Typed ``Any``: tests also
    send parameters the SDK's TypedDicts do not allow, to see the sandbox refuse them."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1500,
                    "product_data": {"name": "GA ticket", "description": "Main hall"},
                },
            },
            {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 300, "product_data": {"name": "Tip"}}},
        ],
        "metadata": {"order_id": "ord_1", "event_id": "ev_1"},
        "client_reference_id": "ord_1",
        "customer_email": "buyer@example.com",
        "success_url": "https://tickets.example/orders/ord_1?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://tickets.example/orders/ord_1?checkout=canceled",
        "expires_at": int(time.time()) + 31 * 60,
        "payment_intent_data": {"metadata": {"order_id": "ord_1", "event_id": "ev_1"}},
        "submit_type": "book",
        "custom_text": {"submit": {"message": "Tickets are sent to this email address."}},
        "allow_promotion_codes": False,
    }
    params.update(overrides)
    return params


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until ``check()`` holds; fail after ``timeout`` seconds (never a pass/fail decided by timing)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with Uvicorn in this event loop on a free port; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            server_header=False,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "the receiver did not start"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Received:
    body: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class WebhookReceiver:
    """A tiny webhook endpoint: records every request and answers from a script of statuses (then 200)."""

    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Received(await request.body(), request.headers.get("stripe-signature", "")))
        status = self.script.pop(0) if self.script else 200
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/webhooks/stripe", self.endpoint, methods=["POST"])])

    def types(self) -> list[str]:
        return [r.event["type"] for r in self.received]


# -- OpenAPI 3.0 -> JSON Schema -------------------------------------------------------------------------------------

_OPENAPI_ONLY = ("nullable", "x-expandableFields", "x-resourceId", "x-stripeBypassValidation", "x-expansionResources")


def _convert(node: Any) -> Any:
    """``nullable: true`` becomes a null alternative; ``$ref`` points into ``definitions``."""
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in _OPENAPI_ONLY}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class OpenApi:
    spec: dict[str, Any]
    _definitions: dict[str, Any] = field(default_factory=dict)

    def definitions(self) -> dict[str, Any]:
        if not self._definitions:
            self._definitions = {k: _convert(v) for k, v in self.spec["components"]["schemas"].items()}
        return self._definitions

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        """Validate against a (converted) schema. Additional properties stay allowed: SDK 16.1.0 added fields."""
        document = {**_convert(schema), "definitions": self.definitions()}
        jsonschema.Draft4Validator(document).validate(instance)

    def validate_component(self, instance: Any, name: str) -> None:
        assert name in self.spec["components"]["schemas"], f"no component schema {name}"
        self.validate(instance, {"$ref": f"#/components/schemas/{name}"})

    def response_schema(self, path: str, method: str, status: str = "200") -> dict[str, Any]:
        schema: dict[str, Any] = self.spec["paths"][path][method]["responses"][status]["content"]["application/json"][
            "schema"
        ]
        return schema
