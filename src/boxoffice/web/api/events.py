"""The REST API's events: an organizer creates, lists and changes their events (API key); anyone reads a public
one."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response

from boxoffice.checkin.lists import ensure_default_list
from boxoffice.events import listing
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ticketing.sales import EventSales, sales_by_event
from boxoffice.web.api import schemas as s
from boxoffice.web.api.deps import Box, Credentials, Organizer, get_organizer
from boxoffice.web.api.routes import PROBLEMS, own_event

router = APIRouter(prefix="/api/v1", responses=PROBLEMS)


def event_out(event: Event) -> s.EventOut:
    return s.EventOut.model_validate(event, from_attributes=True)


@router.post("/events", status_code=201, response_model=s.EventOut, tags=["organizer"], summary="Create an event")
async def create_event(body: s.EventCreate, box: Box, organizer: Organizer) -> s.EventOut:
    """A new event of the key's organizer; without a `status` it is `published` at once (send `draft` to prepare
    it unseen, then `PATCH` its status to `published`)."""
    event = await events.create_event(box.db, organizer.email, events.EventInput(**body.model_dump(exclude_unset=True)))
    await ensure_default_list(box.db, event.id)  # every event has a check-in list from the start
    return event_out(event)


@router.get("/events", response_model=s.EventPage, tags=["organizer"], summary="List your events")
async def list_events(
    response: Response,
    box: Box,
    organizer: Organizer,
    status: Annotated[
        Literal["draft", "published", "sales_paused", "canceled"] | None,
        Query(description="Only the events of this status."),
    ] = None,
    when: Annotated[
        Literal["upcoming", "past"] | None,
        Query(description="`upcoming`: not over yet (ends after now); `past`: over."),
    ] = None,
    sort: Annotated[
        listing.Sort,
        Query(description="`newest` (created last first), `start` (soonest start first) or `start_desc`."),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=listing.MAX_LIMIT, description="Events per page.")] = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Where the page starts: take it from the previous page's `next` (with the same `sort`).",
        ),
    ] = None,
) -> s.EventPage:
    """The API key's events with what each has sold, a page at a time: follow `next` (also the `Link` header, `rel`
    `next`) until it is null. A cursor keeps its place when events are created meanwhile."""
    page = await listing.list_events(
        box.db, organizer.id, status=status, when=when, sort=sort, limit=limit, cursor=cursor
    )
    sold = await sales_by_event(box.db, [event.id for event in page.events])
    next_url = None
    if page.next_cursor is not None:
        query = {"status": status, "when": when, "sort": sort, "limit": limit, "cursor": page.next_cursor}
        next_url = "/api/v1/events?" + urlencode({k: v for k, v in query.items() if v is not None})
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    items = [
        s.EventSummary(**event_out(event).model_dump(), **asdict(sold.get(event.id, EventSales())))
        for event in page.events
    ]
    return s.EventPage(items=items, next=next_url)


@router.get(
    "/events/{event_id}",
    response_model=s.EventOut,
    tags=["organizer", "buyers"],
    summary="Get an event",
    openapi_extra={"security": [{}]},  # the key is optional: without one, the public view
)
async def get_event(event_id: str, box: Box, credentials: Credentials) -> s.EventOut:
    """With the organizer's API key: their event, whatever its status. Without a key: the event as buyers see it,
    where a `draft` answers 404 exactly as an unknown id does."""
    if credentials is None:
        return event_out(await events.get_public_event(box.db, event_id))
    organizer = await get_organizer(box, credentials)
    return event_out(await own_event(box, organizer, event_id))


@router.patch("/events/{event_id}", response_model=s.EventOut, tags=["organizer"], summary="Change an event")
async def patch_event(event_id: str, body: s.EventPatch, box: Box, organizer: Organizer) -> s.EventOut:
    """Only the fields sent change (a null is the same as leaving the field out); `status` publishes, pauses or
    cancels the sale."""
    sent = body.model_dump(exclude_unset=True)
    changes = {key: value for key, value in sent.items() if value is not None}
    if "hold_minutes" in sent and sent["hold_minutes"] is None:
        changes["hold_minutes"] = 0  # null: back to the server's hold
    event = await events.update_event(box.db, event_id, events.EventInput(**changes), organizer_id=organizer.id)
    return event_out(event)
