"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from boxoffice import migrate
from boxoffice.container import Boxoffice
from boxoffice.logs import configure_logging
from boxoffice.payments.keys import SANDBOX_PATH
from boxoffice.sandbox import create_sandbox_app
from boxoffice.settings import Settings, get_settings
from boxoffice.web import problems, system
from boxoffice.web.limits import BodyLimit


def create_app(
    settings: Settings | None = None, *, box: Boxoffice | None = None, migrate_sqlite: bool = True
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
        try:
            yield
        finally:
            await box.stop()

    app = FastAPI(
        title="Boxoffice",
        version="1.0.0",
        summary="Event ticketing: flexible prices, oversell-proof holds, Stripe payments, live availability.",
        lifespan=lifespan,
    )
    app.state.box = box
    app.add_middleware(BodyLimit)
    problems.install(app)
    app.include_router(system.router)
    from boxoffice.web import register

    register(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    if box.sandbox is not None and box.settings.env != "production":  # never in production, whatever is set
        app.mount(SANDBOX_PATH, create_sandbox_app(box.sandbox))
    return app
