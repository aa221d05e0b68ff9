"""``/``: a small landing page. Organizers are pointed to the console's sign-in; buyers learn that tickets are
bought from an event's own link (there is no public list of events)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from boxoffice.web.pages.render import PageRoute, _render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request) -> Response:
    return _render(request, "landing.html", {})
