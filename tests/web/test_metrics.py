"""``GET /metrics``: off without a token, refused without the right one, and Prometheus's text format whose figures
move with what happens: an order, its checkout, Stripe failing, the webhook that confirms it, an email that fails, a
live stream opened and closed. The database's figures are read at most once per cache period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from boxoffice import migrate, outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.notifications.delivery import list_emails
from boxoffice.notifications.models import EmailMessage
from boxoffice.outbox.models import OutboxMessage
from boxoffice.web import metrics as web_metrics
from tests.helpers import eventually, make_event, make_ticket, order_status, unique_email
from tests.server import LiveServer, live_server
from tests.web.test_stream_caps import opened

TOKEN = "metrics-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAMILIES = {
    "boxoffice_reservation_seconds",
    "boxoffice_checkout_seconds",
    "boxoffice_stripe_request_seconds",
    "boxoffice_stripe_errors",
    "boxoffice_webhook_lag_seconds",
    "boxoffice_email_failures",
    "boxoffice_sse_subscribers",
    "boxoffice_orders",
    "boxoffice_outbox_unpublished",
    "boxoffice_outbox_oldest_unpublished_age_seconds",
    "boxoffice_emails",
    "boxoffice_tickets_held",
    "boxoffice_event_tickets_held",
    "boxoffice_event_tickets_unsold",
    "boxoffice_metrics_database_up",
    "process_resident_memory_bytes",
}

Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Figures:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
async def shop(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    # Emails cannot be written (the mail "folder" is a file): every email fails, on its only try.
    mail = tmp_path_factory.mktemp("mail") / "not-a-folder"
    mail.write_text("")
    # A database of its own: what other modules left in the session's (emails due again after a backoff, outbox
    # messages) would otherwise move the counters in the middle of a test here.
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('metrics') / 'boxoffice.db'}"
    await migrate.upgrade(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(web_metrics, "CACHE_SECONDS", 0.0)  # every scrape reads the database's figures
        async with live_server(url, mail_dir=str(mail), metrics_token=TOKEN, email_retry_seconds=0.05) as srv:
            srv.box.mailer.max_attempts = 1
            yield srv


async def scrape(srv: LiveServer) -> Figures:
    response = await srv.client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    return parse(response.text)


async def place(srv: LiveServer, event_id: str, ticket_id: str, quantity: int) -> httpx.Response:
    body = {"email": unique_email(), "name": "Ada", "lines": [{"ticket_id": ticket_id, "quantity": quantity}]}
    return await srv.client.post(f"/api/v1/events/{event_id}/orders", json=body)


def session_of(srv: LiveServer, order_id: str) -> str:
    """The id of the Checkout Session the sandbox holds for an order."""
    assert srv.box.sandbox is not None
    return next(
        str(session["id"])
        for session in srv.box.sandbox.sessions.values()
        if session["client_reference_id"] == order_id
    )


async def test_no_token_no_metrics(sqlite_url: str, tmp_path: Path) -> None:
    async with live_server(sqlite_url, mail_dir=str(tmp_path)) as srv:
        assert srv.box.settings.metrics_token is None
        response = await srv.client.get("/metrics", headers=AUTH)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        unknown = await srv.client.get("/no-such-path", headers=AUTH)
        assert response.json() | {"detail": None} == unknown.json() | {"detail": None}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer t\u00ebst".encode("latin-1"),
    ],
)
async def test_refused_without_the_token(shop: LiveServer, authorization: str | bytes | None) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if authorization is not None:
        raw = authorization if isinstance(authorization, bytes) else authorization.encode()
        headers.append((b"Authorization", raw))
    response = await shop.client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "boxoffice_" not in response.text and TOKEN not in response.text


async def test_the_text_format_with_every_family(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    assert (await place(shop, event.id, tt.id, 1)).status_code == 201
    response = await shop.client.get("/metrics", headers={"authorization": f"bearer {TOKEN}"})  # any case
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert families >= FAMILIES, FAMILIES - families
    figures = parse(response.text)
    assert value(figures, "boxoffice_metrics_database_up") == 1
    assert {status for name, labels in figures if name == "boxoffice_orders" for _, status in labels} >= {
        "pending",
        "confirmed",
        "canceled",
        "expired",
        "failed",
        "refunded",
        "partially_refunded",
    }


async def test_openmetrics_when_asked_for(shop: LiveServer) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = await shop.client.get("/metrics", headers=AUTH | {"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.text.endswith("# EOF\n")
    assert "boxoffice_reservation_seconds_bucket" in response.text


async def test_an_order_its_checkout_and_its_webhook_move_the_figures(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    before = await scrape(shop)

    response = await place(shop, event.id, tt.id, 2)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    placed = await scrape(shop)
    assert value(placed, "boxoffice_reservation_seconds_count", outcome="ok") == (
        value(before, "boxoffice_reservation_seconds_count", outcome="ok") + 1
    )
    assert value(placed, "boxoffice_checkout_seconds_count", outcome="ok") == (
        value(before, "boxoffice_checkout_seconds_count", outcome="ok") + 1
    )
    create = "create_checkout_session"
    assert value(placed, "boxoffice_stripe_request_seconds_count", operation=create) == (
        value(before, "boxoffice_stripe_request_seconds_count", operation=create) + 1
    )
    assert value(placed, "boxoffice_reservation_seconds_sum", outcome="ok") > value(
        before, "boxoffice_reservation_seconds_sum", outcome="ok"
    )
    assert (
        value(placed, "boxoffice_orders", status="pending") == value(before, "boxoffice_orders", status="pending") + 1
    )
    assert value(placed, "boxoffice_tickets_held") == value(before, "boxoffice_tickets_held") + 2
    assert value(placed, "boxoffice_event_tickets_held", event_id=event.id) == 2
    assert value(placed, "boxoffice_event_tickets_unsold", event_id=event.id) == 5

    assert shop.box.sandbox is not None
    await shop.box.sandbox.complete_session(session_of(shop, order_id), "pay")

    async def confirmed() -> bool:
        return await order_status(shop.box.db, order_id) == "confirmed"

    await eventually(confirmed)
    await shop.box.sandbox.wait_for_deliveries()
    paid = await scrape(shop)
    # the session's completion and its PaymentIntent's success: each event is processed once, its lag observed
    assert (
        value(paid, "boxoffice_webhook_lag_seconds_count") >= value(placed, "boxoffice_webhook_lag_seconds_count") + 1
    )
    assert (
        value(paid, "boxoffice_orders", status="confirmed") == value(placed, "boxoffice_orders", status="confirmed") + 1
    )
    assert value(paid, "boxoffice_orders", status="pending") == value(placed, "boxoffice_orders", status="pending") - 1
    assert value(paid, "boxoffice_tickets_held") == value(placed, "boxoffice_tickets_held") - 2
    assert ("boxoffice_event_tickets_held", frozenset({("event_id", event.id)})) not in paid  # none held now


async def test_a_sold_out_reservation_is_counted_as_refused(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=1)
    before = await scrape(shop)
    assert (await place(shop, event.id, tt.id, 2)).status_code == 409
    after = await scrape(shop)
    assert value(after, "boxoffice_reservation_seconds_count", outcome="refused") == (
        value(before, "boxoffice_reservation_seconds_count", outcome="refused") + 1
    )
    assert value(after, "boxoffice_reservation_seconds_count", outcome="ok") == value(
        before, "boxoffice_reservation_seconds_count", outcome="ok"
    )


async def test_stripe_errors_are_counted_by_operation_and_code(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    assert shop.box.sandbox is not None
    before = await scrape(shop)
    shop.box.sandbox.faults.reject_key = True  # Stripe answers 401: the key was rolled
    try:
        response = await place(shop, event.id, tt.id, 1)
    finally:
        shop.box.sandbox.faults.reset()
    assert response.status_code == 503
    after = await scrape(shop)
    labels = {"operation": "create_checkout_session", "code": "payment-provider-auth"}
    assert value(after, "boxoffice_stripe_errors_total", **labels) == (
        value(before, "boxoffice_stripe_errors_total", **labels) + 1
    )
    assert value(after, "boxoffice_checkout_seconds_count", outcome="refused") == (
        value(before, "boxoffice_checkout_seconds_count", outcome="refused") + 1
    )
    # the order keeps its hold, and its checkout starts once Stripe takes the key again
    retry = await shop.client.post(
        response.json()["retry"], headers={"Authorization": f"Bearer {response.json()['token']}"}
    )
    assert retry.status_code == 200


async def settled(db: Database) -> bool:
    """No outbox message waits to be handled and no email waits to be sent."""
    async with db.read() as session:
        waiting = await session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None)))
        unsent = await session.scalar(select(func.count()).where(EmailMessage.status == "pending"))
    return waiting == 0 and unsent == 0


async def test_a_failed_email_is_counted(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    await eventually(lambda: settled(shop.box.db))  # the emails of the tests before this one have failed already
    before = await scrape(shop)
    response = await place(shop, event.id, tt.id, 1)
    assert shop.box.sandbox is not None
    await shop.box.sandbox.complete_session(session_of(shop, response.json()["id"]), "pay")

    async def failed() -> bool:
        return [e.status for e in await list_emails(shop.box.db, event.id)] == ["failed"]

    await eventually(failed)
    after = await scrape(shop)
    assert value(after, "boxoffice_email_failures_total", final="true") == (
        value(before, "boxoffice_email_failures_total", final="true") + 1
    )
    assert value(after, "boxoffice_emails", status="failed") == value(before, "boxoffice_emails", status="failed") + 1


async def test_open_streams_are_counted(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    await make_ticket(shop.box.db, event.id)
    before = value(await scrape(shop), "boxoffice_sse_subscribers")
    async with opened(shop.client, f"/api/v1/events/{event.id}/stream") as stream:
        assert stream.status_code == 200
        assert value(await scrape(shop), "boxoffice_sse_subscribers") == before + 1

    async def closed() -> bool:
        return value(await scrape(shop), "boxoffice_sse_subscribers") == before

    assert await eventually(closed)


async def test_the_database_is_read_at_most_once_per_cache_period(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    now = [1000.0]
    gauges = web_metrics.DatabaseGauges(shop.box.db, ttl=10)
    gauges.clock = lambda: now[0]

    def held() -> float:
        figures = {metric.name: metric for metric in gauges.collect()}
        return figures["boxoffice_tickets_held"].samples[0].value

    await gauges.refresh()
    first = held()
    assert (await place(shop, event.id, tt.id, 3)).status_code == 201
    now[0] += 9.9
    await gauges.refresh()
    assert held() == first  # still the figures read 9.9 s ago
    now[0] += 0.2
    await gauges.refresh()
    assert held() == first + 3


async def test_the_outbox_backlog_and_its_age(db: Database) -> None:
    gauges = web_metrics.DatabaseGauges(db, ttl=0)

    def figures() -> Figures:
        return parse(generate_latest(web_metrics.exposition(gauges)).decode())

    async with db.transaction() as session:
        outbox.record(session, "test.waiting", [], {})
        await session.flush()
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == "test.waiting", OutboxMessage.published_at.is_(None))
            # claimed for an hour, as by a worker sending it: no dispatcher running on this database takes it
            .values(created_at=utcnow() - timedelta(hours=1), locked_until=utcnow() + timedelta(hours=1))
        )
    await gauges.refresh()
    after = figures()
    # other tests share this database and their dispatchers publish their own messages meanwhile, so the backlog is
    # read as "at least ours", and the hour-old age can only be ours
    assert value(after, "boxoffice_outbox_unpublished") >= 1
    assert value(after, "boxoffice_outbox_oldest_unpublished_age_seconds") >= 3600
    async with db.transaction() as session:  # published: off the backlog (for the tests after this one)
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.kind == "test.waiting").values(published_at=utcnow())
        )


async def test_without_the_database_the_process_figures_still_answer(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/db.sqlite")  # its folder does not exist
    try:
        gauges = web_metrics.DatabaseGauges(db)
        await gauges.refresh()
        text = generate_latest(web_metrics.exposition(gauges)).decode()
    finally:
        await db.dispose()
    figures = parse(text)
    assert value(figures, "boxoffice_metrics_database_up") == 0
    assert not any(name == "boxoffice_orders" for name, _ in figures)
    assert any(name == "boxoffice_reservation_seconds_count" for name, _ in figures)
