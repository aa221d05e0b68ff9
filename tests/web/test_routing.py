"""The application's routers are tried in an order chosen for speed (``web.register``): that order must decide
nothing else, so no path and method that one router answers may be answered by another."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import fastapi.routing as fastapi_routing
from starlette.routing import BaseRoute

from boxoffice.settings import Settings
from boxoffice.web.app import create_app


def _routes(router: fastapi_routing.APIRouter) -> Iterator[BaseRoute]:
    for route in router.routes:
        if isinstance(route, fastapi_routing._IncludedRouter):
            yield from _routes(route.original_router)
        else:
            yield route


def _included(tmp_path: Path) -> list[tuple[int, list[BaseRoute]]]:
    """Each router of the application (or route outside any), in the order requests try them, with its routes."""
    app = create_app(Settings(env="test", database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"))
    out = []
    for position, route in enumerate(app.router.routes):
        if isinstance(route, fastapi_routing._IncludedRouter):
            out.append((position, list(_routes(route.original_router))))
        else:
            out.append((position, [route]))
    return out


def test_no_path_is_answered_by_two_routers(tmp_path: Path) -> None:
    included = _included(tmp_path)
    shared = []
    for position, routes in included:
        for route in routes:
            methods = getattr(route, "methods", None) or ()
            path = re.sub(r"\{[^}]+\}", "x1", getattr(route, "path", ""))
            for other_position, others in included:
                if other_position == position:
                    continue  # within one router, its own order decides (as it always did)
                for other in others:
                    regex = getattr(other, "path_regex", None)
                    other_methods = getattr(other, "methods", None)
                    if regex is None or not regex.match(path):
                        continue
                    # a mount (no methods) answers whatever is under it
                    if other_methods is None or set(methods) & set(other_methods):
                        shared.append((path, sorted(methods), getattr(other, "path", "")))
    assert shared == []


def test_the_routers_a_sale_hits_are_tried_first(tmp_path: Path) -> None:
    included = _included(tmp_path)

    def position_of(path: str) -> int:
        return next(p for p, routes in included if any(getattr(r, "path", None) == path for r in routes))

    hot = [
        position_of("/api/v1/events/{event_id}/orders"),
        position_of("/api/v1/events/{event_id}/stream"),
        position_of("/e/{event_id}"),
    ]
    assert hot == sorted(hot)
    others = [
        position_of(path)
        for path in ("/api/v1/events", "/api/v1/events/{event_id}/questions", "/api/v1/events/{event_id}/vouchers")
    ]
    assert max(hot) < min(others)
    console = next(p for p, routes in included if any(getattr(r, "path", "").startswith("/manage") for r in routes))
    assert max(hot) < console
