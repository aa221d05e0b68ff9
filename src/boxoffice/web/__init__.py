"""HTTP interface: REST API, buyer pages, webhooks. Thin: every rule lives in the contexts."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    """Attach the API and page routers (each module adds its own; a module's ``ROUTERS``, when it has them, are
    included one by one: see ``web.api``)."""
    from importlib import import_module

    for name in ("boxoffice.web.api", "boxoffice.web.pages", "boxoffice.web.console", "boxoffice.web.door"):
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        routers = getattr(module, "ROUTERS", None) or (module.router,)
        for router in routers:
            app.include_router(router)
