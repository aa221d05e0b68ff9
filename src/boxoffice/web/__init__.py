"""HTTP interface: REST API, buyer pages, webhooks. Thin: every rule lives in the contexts."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    """Attach the API, page, console and door routers (the API's ``ROUTERS`` one by one: see ``web.api``).

    FastAPI tries the routers one after the other for every request, each over all its routes, so the routers a
    sale's buyers hit come first: placing an order, the live streams, the event page (before, the event page was
    tried against the whole API first, half the CPU of a kept page). No two routers have a path in common
    (``tests/web/test_routing.py``), so their order decides nothing else."""
    from boxoffice.web import api, console, door, pages
    from boxoffice.web.api import routes, streams

    hot = [routes.router, streams.router, pages.router]  # first, in this order
    rest = [*api.ROUTERS, console.router, door.router]
    for router in [*hot, *(r for r in rest if r not in hot)]:
        app.include_router(router)
