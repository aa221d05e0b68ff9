"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from boxoffice import heap, metrics, migrate
from boxoffice.container import Boxoffice
from boxoffice.events.models import Event
from boxoffice.logs import configure_logging
from boxoffice.payments.keys import SANDBOX_PATH
from boxoffice.realtime.shared_reads import SharedReads
from boxoffice.realtime.slots import StreamSlots
from boxoffice.sandbox.policy import CONTENT_SECURITY_POLICY as SANDBOX_PAGE_POLICY
from boxoffice.settings import Settings, get_settings
from boxoffice.web import docs, problems, system
from boxoffice.web import metrics as metrics_endpoint
from boxoffice.web.api import openapi as api_openapi
from boxoffice.web.headers import (
    DOCS_POLICY,
    DOOR_POLICY,
    DOOR_PREFIX,
    NO_REFERRER_PREFIXES,
    SecurityHeaders,
    page_policy,
)
from boxoffice.web.limits import BodyLimit
from boxoffice.web.nul import RefuseNul
from boxoffice.web.pages.kept_pages import KeptPages


def serve_app() -> FastAPI:
    """The application ``boxoffice serve`` hands each Uvicorn worker: ``create_app`` whose heap is settled once it
    has started (``heap.settle``)."""
    return create_app(settle_heap=True)


def create_app(
    settings: Settings | None = None,
    *,
    box: Boxoffice | None = None,
    migrate_sqlite: bool = True,
    settle_heap: bool = False,
) -> FastAPI:
    settings = settings or (box.settings if box else get_settings())
    configure_logging(settings.log_level)
    box = box or Boxoffice(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_sqlite and box.db.is_sqlite:
            await migrate.upgrade(box.db.url)  # the embedded database migrates itself on first start
        await box.start()
        await system.readiness_of(app).warm()
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            await box.stop()
            metrics.process_stopped()

    app = FastAPI(
        title="Boxoffice",
        version="1.0.0",
        summary="Event ticketing: flexible prices, oversell-proof holds, Stripe payments, live availability.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's own pages load from a CDN: web/docs.py serves them from Boxoffice
        redoc_url=None,
    )
    app.state.box = box
    app.state.sse_slots = StreamSlots(settings.sse_max_per_address, settings.sse_max_streams)
    app.state.event_pages = KeptPages(settings.page_cache_seconds)
    # what event streams opened together read once for all of them (realtime.shared_reads)
    app.state.availability_reads = SharedReads[dict[str, Any]]()
    app.state.public_event_reads = SharedReads[Event]()
    app.add_middleware(BodyLimit)
    app.add_middleware(RefuseNul)  # no U+0000 in a path or query (PostgreSQL cannot compare it)
    app.add_middleware(
        SecurityHeaders,  # outermost of ours: the body limit's 413 carries the headers too
        page=page_policy(settings.public_url),
        hsts=settings.env == "production",
        policies={
            SANDBOX_PATH + "/": SANDBOX_PAGE_POLICY,
            "/docs": DOCS_POLICY,
            "/redoc": DOCS_POLICY,
            DOOR_PREFIX: DOOR_POLICY,
        },
        # the console: its one-time links carry a secret in the path, its pages name orders and buyers
        no_referrer=(*NO_REFERRER_PREFIXES, SANDBOX_PATH + "/", "/manage"),
    )
    problems.install(app)
    app.include_router(system.router)
    metrics_endpoint.install(app, settings.metrics_token)
    docs.install(app)
    from boxoffice.web import register

    register(app)
    api_openapi.install(app)  # links between operations, the body limit
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    if box.sandbox is not None and box.settings.env != "production":  # never in production, whatever is set
        from boxoffice.sandbox import create_sandbox_app

        app.mount(SANDBOX_PATH, create_sandbox_app(box.sandbox))
    return app
