"""``GET /metrics``: Prometheus's text format, behind a bearer token (``BOXOFFICE_METRICS_TOKEN``; unset, the route
does not exist and answers 404 like any unknown path).

Two kinds of figures: what each process counts in memory (``boxoffice.metrics``: latencies, Stripe calls, webhook lag,
email failures, open streams; added up over every process of ``boxoffice serve --workers N`` in multiprocess mode),
and what the database knows (orders by status, the outbox backlog, emails waiting or failed, held tickets), read at
scrape time by a few aggregate statements, at most once per ``DatabaseGauges.ttl`` seconds however often it is
scraped, so that every process answers the same and nothing is written on the order path to count it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from pydantic import SecretStr
from sqlalchemy import func, select

from boxoffice import metrics
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.notifications.models import EmailMessage
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.models import ORDER_STATUSES, Order, TicketType
from boxoffice.web.problems import problem

log = logging.getLogger("boxoffice.metrics")
router = APIRouter()
CACHE_SECONDS = 5.0
EMAIL_STATUSES = ("pending", "failed")  # sent emails are history, not a figure to watch (and would need a full count)


@dataclass(frozen=True)
class DatabaseFigures:
    orders: dict[str, int]
    outbox_unpublished: int
    outbox_oldest_age: float
    emails: dict[str, int]
    tickets_held: int
    # per event with tickets held now: (held, unsold = quantity - sold)
    events_held: dict[str, tuple[int, int]] = field(default_factory=dict)


async def read_figures(db: Database) -> DatabaseFigures:
    """The database's figures, one aggregate statement each, in one read (autocommit on PostgreSQL).

    Orders by status is an index-only scan of ``ix_orders_status_expires`` on PostgreSQL; the outbox and email
    counts use their partial ranges of ``ix_outbox_messages_unpublished`` and ``ix_email_messages_due``."""
    async with db.read() as session:
        orders = dict.fromkeys(ORDER_STATUSES, 0)
        for status, count in await session.execute(select(Order.status, func.count()).group_by(Order.status)):
            orders[str(status)] = int(count)
        backlog, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
            )
        ).one()
        emails = dict.fromkeys(EMAIL_STATUSES, 0)
        for status, count in await session.execute(
            select(EmailMessage.status, func.count())
            .where(EmailMessage.status.in_(EMAIL_STATUSES))
            .group_by(EmailMessage.status)
        ):
            emails[str(status)] = int(count)
        events_held = {
            str(event_id): (int(held), int(unsold))
            for event_id, held, unsold in await session.execute(
                select(
                    TicketType.event_id,
                    func.sum(TicketType.held_count),
                    func.sum(TicketType.quantity - TicketType.sold_count),
                )
                .where(TicketType.held_count > 0)
                .group_by(TicketType.event_id)
            )
        }
    age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
    return DatabaseFigures(
        orders=orders,
        outbox_unpublished=int(backlog),
        outbox_oldest_age=age,
        emails=emails,
        tickets_held=sum(held for held, _ in events_held.values()),
        events_held=events_held,
    )


class DatabaseGauges:
    """The database's figures as Prometheus gauges, read again at most once per ``ttl`` seconds (concurrent scrapes
    share one read). ``refresh`` is awaited before a scrape; ``collect`` (synchronous, as prometheus_client calls it)
    gives the figures read."""

    def __init__(self, db: Database, *, ttl: float | None = None) -> None:
        self.db = db
        self.ttl = CACHE_SECONDS if ttl is None else ttl
        self.clock: Callable[[], float] = time.monotonic
        self._figures: DatabaseFigures | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():  # another scrape read them while this one waited
                return
            try:
                self._figures = await read_figures(self.db)
            except Exception as exc:  # the process's own metrics are still worth a scrape while the database is away
                log.warning("metrics: could not read the database's figures (%s)", type(exc).__name__)
                self._figures = None
            self._read_at = self.clock()

    def _fresh(self) -> bool:
        return self._read_at is not None and self.clock() - self._read_at < self.ttl

    def collect(self) -> Iterator[Metric]:
        figures = self._figures
        yield GaugeMetricFamily(
            "boxoffice_metrics_database_up",
            "1 when the last read of the database's figures succeeded (the boxoffice_orders... gauges follow), else 0.",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        orders = GaugeMetricFamily("boxoffice_orders", "Orders by status, now (from the database).", labels=["status"])
        for status, count in sorted(figures.orders.items()):
            orders.add_metric([status], count)
        yield orders
        yield GaugeMetricFamily(
            "boxoffice_outbox_unpublished",
            "Domain events recorded but not yet published (pub/sub, emails).",
            value=figures.outbox_unpublished,
        )
        yield GaugeMetricFamily(
            "boxoffice_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished domain event (0 when none is waiting).",
            value=figures.outbox_oldest_age,
        )
        emails = GaugeMetricFamily(
            "boxoffice_emails", "Emails waiting to be sent (pending) or given up (failed), now.", labels=["status"]
        )
        for status, count in sorted(figures.emails.items()):
            emails.add_metric([status], count)
        yield emails
        yield GaugeMetricFamily(
            "boxoffice_tickets_held",
            "Tickets held by pending orders now, over every event (expired holds not yet released included).",
            value=figures.tickets_held,
        )
        held = GaugeMetricFamily(
            "boxoffice_event_tickets_held", "Tickets held now, per event with any held.", labels=["event_id"]
        )
        unsold = GaugeMetricFamily(
            "boxoffice_event_tickets_unsold",
            "Tickets not sold (held or available), per event with any held.",
            labels=["event_id"],
        )
        for event_id, (held_count, unsold_count) in sorted(figures.events_held.items()):
            held.add_metric([event_id], held_count)
            unsold.add_metric([event_id], unsold_count)
        yield held
        yield unsold


def exposition(database: DatabaseGauges) -> CollectorRegistry:
    """What one scrape reads: this process's metrics (or every process's, in multiprocess mode), the process's own
    CPU and memory when it is the only one, and the database's figures."""
    registry = CollectorRegistry()  # no auto-describe: nothing is collected until a scrape
    path = metrics.multiprocess_dir()
    if path is None:
        registry.register(metrics.REGISTRY)
        registry.register(ProcessCollector(registry=None))
    else:
        registry.register(metrics.multiprocess_registry(path))
    registry.register(database)
    return registry


def exposition_of(app: FastAPI) -> tuple[DatabaseGauges, CollectorRegistry]:
    """The app's one set of collectors (made on first use)."""
    if getattr(app.state, "metrics", None) is None:
        database = DatabaseGauges(app.state.box.db)
        app.state.metrics = (database, exposition(database))
    found: tuple[DatabaseGauges, CollectorRegistry] = app.state.metrics
    return found


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time (whatever the header holds)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode())


def install(app: FastAPI, token: SecretStr | None) -> None:
    """Add ``GET /metrics`` when a token is set; without one, the route does not exist (404)."""
    if token is not None and token.get_secret_value():
        app.state.metrics_token = token
        app.include_router(router)


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    token: SecretStr = request.app.state.metrics_token
    if not authorized(request.headers.get("authorization"), token.get_secret_value()):
        return problem(
            401,
            "unauthorized",
            "Unauthorized",
            "the metrics need the token of BOXOFFICE_METRICS_TOKEN as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    database, registry = exposition_of(request.app)
    await database.refresh()
    # Prometheus's text format, or OpenMetrics when the scraper asks for it (as Prometheus itself does)
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)
