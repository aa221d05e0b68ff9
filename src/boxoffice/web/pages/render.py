"""Rendering the buyer pages: templates, static file URLs, the page route class, messages, dates in words."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from boxoffice import money
from boxoffice.container import Boxoffice
from boxoffice.events.models import Event
from boxoffice.web.logpath import logged_path

log = logging.getLogger("boxoffice.pages")

HERE = Path(__file__).parent.parent  # web/: its templates and static files
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = money.format_money

SANDBOX_BANNER = "Test mode: payments go to the local Stripe sandbox; no real money moves"
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _box(request: Request) -> Boxoffice:
    box: Boxoffice = request.app.state.box
    return box


@lru_cache(maxsize=16)
def _static_version(name: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: browsers cache the file until it changes."""
    path = STATIC / name
    try:
        return f"/static/{name}?v={_static_version(name, path.stat().st_mtime_ns)}"
    except OSError:
        return f"/static/{name}"


templates.env.globals["static_url"] = static_url


class PageRoute(APIRoute):
    """A page route: an unexpected error becomes a page in words (logged), not a problem document."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException:
                raise
            except Exception:
                log.exception("page failed", extra={"path": logged_path(request)})
                return _trouble(request)

        return guarded


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    box = _box(request)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {"sandbox": box.stripe.is_sandbox, "sandbox_banner": SANDBOX_BANNER, **context},
        status_code=status,
        headers=dict(headers or {}),
    )
    return response


def _message(
    request: Request, status: int, heading: str, message: str, *, link: tuple[str, str] | None = None
) -> Response:
    return _render(request, "message.html", {"heading": heading, "message": message, "link": link}, status=status)


def _event_not_found(request: Request) -> Response:
    return _message(request, 404, "Event not found", "We could not find this event. Please check the link.")


def _order_not_found(request: Request) -> Response:
    return _message(
        request,
        404,
        "Order not found",
        "We could not find this order. Please use the link from your confirmation email or the checkout page.",
    )


def _trouble(request: Request) -> Response:
    return _message(
        request,
        500,
        "Something went wrong",
        "Something went wrong on our side and nothing was charged. Please try again in a minute.",
    )


def _zone(event: Event) -> ZoneInfo:
    try:
        return ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(value: datetime) -> str:
    return f"{value.strftime('%A')} {value.day} {value.strftime('%B %Y')}"


def _when(event: Event) -> str:
    """The event's dates in its own time zone: ``Saturday 14 March 2026, 19:00 to 23:00 CET (Europe/Berlin)``."""
    zone = _zone(event)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    if start.date() == end.date():
        span = f"{_day(start)}, {start:%H:%M} to {end:%H:%M} {end.tzname()}"
    else:
        span = f"{_day(start)}, {start:%H:%M} {start.tzname()} to {_day(end)}, {end:%H:%M} {end.tzname()}"
    return f"{span} ({zone.key})"


def _where(event: Event) -> list[str]:
    """Where the event takes place, line by line: the venue's name, then its address as the organizer wrote it."""
    lines = [event.venue_name.strip()] if (event.venue_name or "").strip() else []
    lines += [line.strip() for line in (event.venue_address or "").splitlines() if line.strip()]
    return lines


def _moment(value: datetime, event: Event) -> str:
    local = value.astimezone(_zone(event))
    return f"{local:%H:%M} {local.tzname()} on {_day(local)}"
