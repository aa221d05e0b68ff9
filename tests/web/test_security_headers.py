"""Security headers on every answer (every route walked, pages, API, streams, mounts, errors), a policy the pages
satisfy (no inline script, style or handler; the sandbox's one inline style matches its hash), HSTS only in
production, and no Server banner."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute

from boxoffice.accounts.service import create_api_key
from boxoffice.attendees.questions import create_question
from boxoffice.checkin.lists import ensure_default_list
from boxoffice.checkin.models import CheckinList
from boxoffice.payments.keys import SANDBOX_PATH
from boxoffice.ticketing import voucher_codes
from boxoffice.ticketing.reserve import reserve
from boxoffice.web.app import create_app
from boxoffice.web.headers import SecurityHeaders
from tests.helpers import make_event, make_ticket, order_request, unique_email
from tests.server import LiveServer, settings_for

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # an inline script
    re.compile(r"<style\b", re.I),  # an inline style block
    re.compile(r"\sstyle\s*=", re.I),  # a style attribute
    re.compile(r"\son[a-z]+\s*=", re.I),  # an event handler attribute
    re.compile(r"javascript:", re.I),
]


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every route of the app, through the routers FastAPI includes (none of them adds a prefix here)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def secured(response: httpx.Response, what: str) -> None:
    h = response.headers
    path = response.request.url.path
    assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), what
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("x-frame-options") == "DENY", what
    private = path.startswith(
        ("/orders/", "/api/v1/orders/", "/waiting-list/", "/api/v1/waiting-list/", SANDBOX_PATH + "/", "/manage")
    )
    assert h.get("referrer-policy") == ("no-referrer" if private else "strict-origin-when-cross-origin"), what
    assert "server" not in h, what
    assert "strict-transport-security" not in h, what  # not production
    if h.get("content-type", "").startswith("text/html") and not path.startswith((SANDBOX_PATH, "/docs", "/redoc")):
        csp = h["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp, what
        for pattern in INLINE:
            assert not pattern.search(response.text), (what, pattern.pattern)


async def test_every_route_answers_with_the_headers(site: LiveServer) -> None:
    organizer = unique_email("org")
    _, key = await create_api_key(site.box.db, organizer)
    event = await make_event(site.box.db, organizer=organizer)
    tt = await make_ticket(site.box.db, event.id, pricing_model="flexible", minimum_price_cents=100, tippable=True)
    spare = await make_ticket(site.box.db, event.id, title="Spare")
    order = await reserve(site.box.db, order_request(event.id, (tt.id, 1, 500)))
    question = await create_question(site.box.db, event.id, {"label": "Diet", "kind": "text"})
    await ensure_default_list(site.box.db, event.id)
    async with site.box.db.read() as session:
        list_id = await session.scalar(select(CheckinList.id).where(CheckinList.event_id == event.id))
    voucher = (await voucher_codes.create_vouchers(site.box.db, event.id, {"code": "HEADERS"})).vouchers[0]
    ids = {
        "event_id": event.id,
        "order_id": order.id,
        "ticket_id": spare.id,
        "question_id": question.id,
        "key_id": "key_nope",  # the console's and the API keys' routes
        "membership_id": "mem_nope",
        "token": "nope",
        "endpoint_id": "we_00000000000000000000",
        "delivery_id": "whd_00000000000000000000",
        "list_id": str(list_id),
        "checkin_id": "ci_unknown",
        "device_id": "dev_unknown",
        "voucher_id": voucher.id,
        "entry_id": "wle_00000000000000000000",  # an unknown entry: its answers carry the headers too
        "message_id": "em_nope",  # the console's email log
    }
    c = site.client
    walked: set[tuple[str, str]] = set()
    for route in api_routes(create_app(box=site.box).routes):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            path = route.path.format(**{k: v for k, v in ids.items() if "{" + k + "}" in route.path})
            token = {"token": site.box.payments.order_token(order)} if "order_id" in route.path else {}
            kwargs: dict[str, Any] = {"params": token}
            if method != "GET":
                kwargs["json" if path.startswith("/api/") else "data"] = {}
            auth = {"Authorization": f"Bearer {key}"} if path.startswith("/api/") and not token else {}
            async with c.stream(method, path, headers=auth, **kwargs) as response:
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    await response.aread()
                secured(response, f"{method} {route.path} -> {response.status_code}")
            walked.add((method, route.path))
    assert ("GET", "/e/{event_id}") in walked and ("GET", "/api/v1/events/{event_id}/stream") in walked
    assert ("POST", "/webhooks/stripe") in walked and len(walked) >= 25
    for path in ("/static/app.js", "/static/app.css", "/no/such/page", "/openapi.json", "/docs", "/redoc"):
        secured(await c.get(path), path)
    secured(await c.get(f"/e/{event.id}"), "event page")
    secured(await c.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "x"}), "event page with errors")
    kept = await c.get(f"/orders/{order.id}", params={"token": site.box.payments.order_token(order)})
    secured(kept, "order page taking its token (redirect)")
    secured(await c.get(kept.headers["location"]), "order page")
    secured(await c.get("/orders/ord_nope", params={"token": "x"}), "order not found page")
    secured(await c.post("/api/v1/events", content=b"x" * 70_000, headers={"Authorization": f"Bearer {key}"}), "413")


async def test_the_sandbox_page_satisfies_its_own_policy(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id)
    checkout = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "1", "email": "a@example.com"})
    assert checkout.status_code == 303
    page = await site.client.get(checkout.headers["location"])
    assert page.status_code == 200 and "<form" in page.text
    secured(page, "sandbox checkout page")
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script may run at all
    styles = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    for pattern in INLINE[2:]:
        assert not pattern.search(page.text), pattern.pattern


async def test_hsts_only_in_production(site: LiveServer) -> None:
    assert "strict-transport-security" not in (await site.client.get("/healthz")).headers
    production = settings_for(site.box.settings.database_dsn, env="production", secret_key="p" * 64)
    app = create_app(production, box=site.box)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for path in ("/healthz", "/e/ev_nope"):
            answer = await client.get(path)
            assert answer.headers["strict-transport-security"].startswith("max-age="), path
            assert answer.headers["x-content-type-options"] == "nosniff"


async def test_an_application_server_header_is_dropped() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"server", b"leaky/1.0")]})
        await send({"type": "http.response.body", "body": b"ok"})

    wrapped = SecurityHeaders(app, page="default-src 'self'; frame-ancestors 'none'")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://test") as client:
        answer = await client.get("/")
    assert "server" not in answer.headers and answer.headers["x-content-type-options"] == "nosniff"


def test_the_commands_start_uvicorn_without_a_server_banner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from boxoffice import cli
    from boxoffice.settings import get_settings

    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: runs.append(kwargs))
    monkeypatch.setenv("BOXOFFICE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BOXOFFICE_PUBLIC_URL", "http://127.0.0.1:8123")
    get_settings.cache_clear()
    try:
        for command in (["serve", "--port", "8123"], ["sandbox", "--port", "8124"]):
            result = CliRunner().invoke(cli.app, command)
            assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    assert [run["server_header"] for run in runs] == [False, False]
