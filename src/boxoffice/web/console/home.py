"""The console's first page (the organizer's events), the organizer chooser and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice import money
from boxoffice.accounts import sessions
from boxoffice.accounts.users import memberships_of
from boxoffice.ticketing.reports import organizer_event_figures
from boxoffice.web.console.access import (
    SESSION_COOKIE,
    ConsoleMember,
    ConsoleRoute,
    ConsoleUser,
    _box,
    clear_session_cookie,
    safe_next,
    sessions_changed,
)
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render
from boxoffice.web.pages.render import _when

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

NOTICES = {
    "password-set": "Your password is set and you are signed in.",
    "created": "Event created.",
    "switched": "You are now working for this organizer.",
}


@router.get("/manage")
async def home(
    request: Request, member: ConsoleMember, done: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    found = await organizer_event_figures(_box(request).db, member.organizer_id)
    rows = {
        section: [
            {
                "event": f.event,
                "when": _when(f.event),
                "sold": f.sold,
                "capacity": f.capacity,
                "gross": money.format_money(f.gross_cents, f.event.currency or "usd"),
            }
            for f in figures
        ]
        for section, figures in (("upcoming", found.upcoming), ("past", found.past))
    }
    return render(request, "console/home.html", {"events": rows, "notice": NOTICES.get(done or "")})


@router.get("/manage/organizers")
async def organizers_page(
    request: Request,
    user: ConsoleUser,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    memberships = await memberships_of(_box(request).db, user.user_id)
    return render(
        request,
        "console/organizers.html",
        {
            "memberships": [
                {"organizer_id": m.organizer_id, "name": p.name or p.email, "email": p.email, "role": m.role}
                for m, p in memberships
            ],
            "next": safe_next(next),
        },
    )


@router.post("/manage/organizers")
async def choose_organizer(request: Request, user: ConsoleUser) -> Response:
    form = await ConsoleForm.read(request)
    chosen = await sessions.choose_organizer(_box(request).db, user.session_id, user.user_id, form.get("organizer_id"))
    if not chosen:  # not (or no longer) a member: the list again
        return RedirectResponse("/manage/organizers", status_code=303)
    sessions_changed(request, session_id=user.session_id)  # the other organizer's scanners and streams end
    target = safe_next(form.get("next"), "/manage?done=switched")
    return RedirectResponse(target if target != "/manage" else "/manage?done=switched", status_code=303)


@router.post("/manage/sign-out")
async def sign_out(request: Request, user: ConsoleUser) -> Response:
    await sessions.end_session(_box(request).db, request.cookies.get(SESSION_COOKIE))
    sessions_changed(request, session_id=user.session_id)  # its scanners and streams end with it
    response = RedirectResponse("/manage/sign-in?done=signed-out", status_code=303)
    clear_session_cookie(request, response)
    return response
