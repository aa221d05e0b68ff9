"""An event's email log (owners and managers): every email of its orders with its status, attempts and last error,
newest first, 50 a page, filtered by status; a failed one has a retry button (``notifications.resend.retry_failed``:
the row goes back to pending and the mailer sends it once more)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.notifications.email_log import STATUSES, list_event_emails
from boxoffice.notifications.resend import retry_failed
from boxoffice.web.console.access import ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

NOTICES = {"retried": "The email is queued again: it is sent within a minute."}
PROBLEMS = {"not-failed": "This email is not failed (any more): it was not queued again."}
KINDS = {
    "confirmation": "Order confirmation",
    "refund": "Refund",
    "payment_failed": "Payment failed",
    "ticket_received": "Ticket received",
    "ticket_handed_on": "Ticket handed on",
}


@router.get("/manage/events/{event_id}/emails")
async def emails_page(
    request: Request,
    event_id: str,
    member: OwnerOrManager,
    status: Annotated[str, Query(max_length=16)] = "",
    after: Annotated[str | None, Query(max_length=100)] = None,
    done: Annotated[str, Query(max_length=32)] = "",
    problem: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    event = await owned_event(request, member, event_id)
    chosen = status if status in STATUSES else ""
    page = await list_event_emails(_box(request).db, event.id, status=chosen or None, cursor=after)
    context = {
        "event": event,
        "page": page,
        "status": chosen,
        "statuses": STATUSES,
        "kinds": KINDS,
        "first_page": after is None,
        "notice": NOTICES.get(done),
        "problem": PROBLEMS.get(problem),
    }
    return render(request, "console/emails.html", context)


@router.post("/manage/events/{event_id}/emails/{message_id}/retry")
async def retry_email(request: Request, event_id: str, message_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    queued = await retry_failed(_box(request).db, message_id[:64], event_id=event.id)
    outcome = "done=retried" if queued else "problem=not-failed"
    return RedirectResponse(f"/manage/events/{event.id}/emails?{outcome}", status_code=303)
