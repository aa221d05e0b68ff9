"""HTTP interface: REST API, buyer pages, webhooks. Thin: every rule lives in the contexts."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def register(app: FastAPI) -> None:
    """Attach the API and page routers (each module adds its own; a module's ``ROUTERS``, when it has them, are
    included one by one: see ``web.api``).

    FastAPI tries the routers one after the other for every request, each over all its routes, so the routers a
    sale's buyers hit come first: placing an order, the live streams, the event page (before, the event page was
    tried against the whole API first, half the CPU of a kept page). No two routers have a path in common
    (``tests/web/test_routing.py``), so their order decides nothing else."""
    from importlib import import_module

    found: list[APIRouter] = []
    for name in ("boxoffice.web.api", "boxoffice.web.pages", "boxoffice.web.console", "boxoffice.web.door"):
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.extend(getattr(module, "ROUTERS", None) or (module.router,))
    from boxoffice.web.api import routes, streams
    from boxoffice.web.pages import router as pages

    hot = [routes.router, streams.router, pages]  # first, in this order
    for router in [*hot, *(r for r in found if r not in hot)]:
        app.include_router(router)
