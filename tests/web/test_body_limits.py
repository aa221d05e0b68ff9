"""Every route family refuses a body over its limit with 413 problem+json, without holding the body: a declared
length over the limit is refused before a byte is read, a chunked body is cut off as soon as its count passes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from boxoffice.payments.keys import SANDBOX_PATH
from boxoffice.web.app import create_app
from boxoffice.web.limits import API_LIMIT, DEFAULT_LIMIT, SANDBOX_LIMIT, WEBHOOK_LIMIT
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer
from tests.web.asgi import Answer, call

CHUNK = b"x" * 4096


async def families(site: LiveServer) -> list[tuple[str, str, int, dict[str, str]]]:
    """(name, path, limit, headers) of one body-reading route per family."""
    event = await make_event(site.box.db)
    await make_ticket(site.box.db, event.id)
    key = site.box.stripe.secret_key.get_secret_value()
    form = {"content-type": "application/x-www-form-urlencoded"}
    return [
        ("api", f"/api/v1/events/{event.id}/orders", API_LIMIT, {"content-type": "application/json"}),
        ("webhook", "/webhooks/stripe", WEBHOOK_LIMIT, {"content-type": "application/json"}),
        ("page form", f"/e/{event.id}/checkout", DEFAULT_LIMIT, form),
        ("sandbox", f"{SANDBOX_PATH}/v1/checkout/sessions", SANDBOX_LIMIT, form | {"authorization": f"Bearer {key}"}),
    ]


@pytest.fixture
def app(site: LiveServer) -> FastAPI:
    return create_app(box=site.box)  # the live server's started Boxoffice, driven by hand


def too_large(answer: Answer) -> None:
    assert answer.status == 413, answer
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 413 and body["type"].endswith("/too-large")


async def test_a_declared_length_over_the_limit_is_refused_before_reading(site: LiveServer, app: FastAPI) -> None:
    for name, path, limit, headers in await families(site):
        answer = await call(
            app, "POST", path, headers=headers | {"content-length": str(limit + 1)}, chunk=CHUNK, chunks=1000
        )
        too_large(answer)
        assert answer.pulls == 0, name


async def test_a_chunked_body_is_cut_off_soon_after_the_limit(site: LiveServer, app: FastAPI) -> None:
    for name, path, limit, headers in await families(site):
        endless = 100 * limit // len(CHUNK)  # far more than the app may take
        answer = await call(app, "POST", path, headers=headers, chunk=CHUNK, chunks=endless)
        too_large(answer)
        assert answer.pulls <= limit // len(CHUNK) + 1, (name, answer.pulls)


async def test_a_body_within_the_limit_still_reaches_the_route(site: LiveServer, app: FastAPI) -> None:
    answer = await call(app, "POST", "/webhooks/stripe", chunk=b"{}", chunks=1)
    assert answer.status == 400 and answer.json()["type"].endswith("/bad-signature")


async def test_over_real_sockets_declared_and_chunked(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    path = f"/api/v1/events/{event.id}/orders"
    declared = await site.client.post(path, content=b"{" + b" " * API_LIMIT + b"}")
    assert declared.status_code == 413 and declared.headers["content-type"] == "application/problem+json"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(API_LIMIT // len(CHUNK) + 2):
            yield CHUNK

    chunked = await site.client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413 and chunked.headers["content-type"] == "application/problem+json"
    assert chunked.json()["status"] == 413
