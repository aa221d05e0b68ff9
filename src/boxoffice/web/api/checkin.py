"""The check-in API: lists (organizer), scans, undo, status, attendee search, the offline copy and the live stream
(scanners: an organizer's API key or a paired door device), and door devices (organizer).

Every route takes the ``Door`` principal (``web/api/deps.py:get_scanner``); the checkin context decides what it may
do (a device: scan, search, read its one list; an organizer: everything)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse

from boxoffice.checkin import attendees, devices, lists, status
from boxoffice.checkin.models import CheckinDevice, CheckinList
from boxoffice.checkin.rules import Result
from boxoffice.checkin.scan import ScanOutcome, ScanRequest, scan
from boxoffice.checkin.undo import undo_checkin
from boxoffice.errors import ErrorCode, FieldError
from boxoffice.topics import checkin_list_topic
from boxoffice.web.api import checkin_schemas as cs
from boxoffice.web.api.deps import Box, Credentials, Door, door_still_valid
from boxoffice.web.api.routes import PROBLEMS
from boxoffice.web.api.schemas import Problem
from boxoffice.web.api.streams import SSE, _stream
from boxoffice.web.pages.words import say
from boxoffice.web.problems import problem

_403: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "content": {"application/problem+json": {}}, "description": "Not allowed"}
}
router = APIRouter(prefix="/api/v1", responses={**PROBLEMS, **_403}, tags=["check-in"])
NO_STORE = {"Cache-Control": "no-store"}
STATUS_EVERY = 1.0  # seconds: a live stream sends the counts again at most this often while check-ins come in


def list_out(lst: CheckinList) -> cs.CheckinListOut:
    return cs.CheckinListOut(
        id=lst.id,
        event_id=lst.event_id,
        name=lst.name,
        all_ticket_types=lst.all_ticket_types,
        ticket_type_ids=list(lst.ticket_type_ids or []),
        starts_at=lst.starts_at,
        ends_at=lst.ends_at,
        is_default=lst.default_for_event is not None,
        created_at=lst.created_at,
    )


def device_out(device: CheckinDevice) -> dict[str, Any]:
    return {
        "id": device.id,
        "event_id": device.event_id,
        "checkin_list_id": device.list_id,
        "label": device.label,
        "prefix": device.prefix,
        "created_at": device.created_at,
        "last_used_at": device.last_used_at,
        "revoked_at": device.revoked_at,
        "expires_at": device.expires_at,
    }


# -- lists -----------------------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/checkin-lists", status_code=201, response_model=cs.CheckinListOut, summary="Add a check-in list"
)
async def create_list(event_id: str, body: cs.CheckinListCreate, box: Box, door: Door) -> cs.CheckinListOut:
    return list_out(await lists.create_list(box.db, event_id, body.model_dump(exclude_unset=True), door))


@router.get(
    "/events/{event_id}/checkin-lists", response_model=list[cs.CheckinListOut], summary="An event's check-in lists"
)
async def event_lists(event_id: str, box: Box, door: Door) -> list[cs.CheckinListOut]:
    """The default list (created with the event) first."""
    return [list_out(lst) for lst in await lists.list_lists(box.db, event_id, door)]


@router.get("/checkin-lists/{list_id}", response_model=cs.CheckinListOut, summary="A check-in list")
async def get_list(list_id: str, box: Box, door: Door) -> cs.CheckinListOut:
    lists.require_manager(door)
    lst, _ = await lists.get_list(box.db, list_id, door)
    return list_out(lst)


@router.patch("/checkin-lists/{list_id}", response_model=cs.CheckinListOut, summary="Change a check-in list")
async def patch_list(list_id: str, body: cs.CheckinListPatch, box: Box, door: Door) -> cs.CheckinListOut:
    return list_out(await lists.update_list(box.db, list_id, body.model_dump(exclude_unset=True), door))


@router.delete("/checkin-lists/{list_id}", status_code=204, summary="Delete a check-in list (its check-ins are kept)")
async def delete_list(list_id: str, box: Box, door: Door) -> Response:
    await lists.delete_list(box.db, list_id, door)
    return Response(status_code=204)


# -- scans -----------------------------------------------------------------------------------------------------

SCAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "model": cs.ScanRefused,
        "content": {"application/problem+json": {}},
        "description": "Refused: result says why (already_checked_in, canceled, refunded, not_paid, not_on_list, "
        "outside_window, replaced)",
    },
    422: {
        "model": cs.ScanInvalid,
        "content": {"application/problem+json": {}},
        "description": "result invalid: not a ticket of this event (malformed, forged, unknown, another event); "
        "without result: an invalid request",
    },
}


@router.post(
    "/checkin-lists/{list_id}/scans",
    status_code=201,
    response_model=cs.ScanOk,
    responses=SCAN_RESPONSES,
    summary="Scan a ticket (check it in)",
)
async def post_scan(list_id: str, body: cs.ScanIn, box: Box, door: Door) -> Response:
    """Admits a ticket once per list, whatever the number of scanners racing: 201 for the one that admits it, 409
    for every later scan (with the first check-in's time and device). With a `nonce`, a retry answers what the
    first try answered (`replayed`, header `Idempotent-Replayed`) and writes nothing. With `scanned_at` (an
    offline scan being uploaded), a ticket admitted meanwhile is recorded as a flagged duplicate entry (409
    `already_checked_in`, `duplicate: true`)."""
    request = ScanRequest(body.code, body.ticket_id, body.nonce, body.scanned_at, body.device)
    outcome = await scan(box.db, list_id, request, door, keys=box.settings.signing_keys)
    return scan_answer(outcome, "ticket_id" if body.ticket_id is not None else "code")


def _ticket(outcome: ScanOutcome) -> dict[str, Any] | None:
    t = outcome.ticket
    if t is None:
        return None
    return {
        "id": t.id,
        "ticket_type_id": t.ticket_type_id,
        "ticket_type": t.ticket_type,
        "holder_name": t.holder_name,
        "order_id": t.order_id,
    }


def scan_answer(outcome: ScanOutcome, field: str) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.result is Result.OK:
        assert outcome.checkin is not None
        body = {
            "result": "ok",
            "checkin_id": outcome.checkin.id,
            "ticket": _ticket(outcome),
            "checked_in_at": outcome.checkin.checked_in_at,
            "device": outcome.checkin.device,
            "replayed": outcome.replayed,
        }
        return JSONResponse(jsonable_encoder(body), status_code=201, headers={**headers, **NO_STORE})
    words = say(outcome.result.error_code, field)
    if outcome.result is Result.INVALID:
        return problem(
            422,
            "invalid-ticket",
            "Not a ticket of this event",
            "this code is not a ticket of this list's event (malformed, forged, altered, unknown, or another event's)",
            errors=[FieldError(field, words, code=ErrorCode.INVALID)],
            result=Result.INVALID.value,
        )
    first = outcome.first
    extra: dict[str, Any] = {
        "result": outcome.result.value,
        "ticket": _ticket(outcome),
        "first_checkin": (
            {"id": first.id, "checked_in_at": first.checked_in_at, "device": first.device} if first else None
        ),
        "duplicate": outcome.duplicate,
        "checkin_id": outcome.checkin.id if outcome.checkin is not None else None,
        "replayed": outcome.replayed,
    }
    detail = f"check-in refused: {outcome.result.value}"
    if outcome.duplicate:
        detail = "already checked in; this offline admission was recorded as a duplicate entry"
    return problem(
        409,
        "checkin-refused",
        "Check-in refused",
        detail,
        errors=[FieldError(field, words, code=outcome.result.error_code)],
        headers=headers or None,
        **jsonable_encoder(extra),
    )


@router.delete("/checkins/{checkin_id}", response_model=cs.UndoneOut, summary="Undo a check-in")
async def undo(checkin_id: str, box: Box, door: Door) -> cs.UndoneOut:
    """The ticket may enter again (organizer: an owner or a manager; a door device may not). 409 when it was undone
    already."""
    undone = await undo_checkin(box.db, checkin_id, door)
    return cs.UndoneOut(id=undone.id, list_id=undone.list_id, ticket_id=undone.ticket_id, undone_at=undone.undone_at)


# -- what scanners read ----------------------------------------------------------------------------------------


def status_body(st: status.ListStatus) -> dict[str, Any]:
    return {
        "list_id": st.list_id,
        "checked_in": st.checked_in,
        "duplicates": st.duplicates,
        "total": st.total,
        "ticket_types": [
            {
                "id": t.ticket_type_id,
                "title": t.title,
                "checked_in": t.checked_in,
                "duplicates": t.duplicates,
                "total": t.total,
            }
            for t in st.ticket_types
        ],
    }


@router.get("/checkin-lists/{list_id}/status", response_model=cs.StatusOut, summary="Checked in and total")
async def list_status(list_id: str, box: Box, door: Door) -> dict[str, Any]:
    """Per ticket type: checked in, duplicate entries (counted apart) and the tickets that admit here."""
    return status_body(await status.list_status(box.db, list_id, door))


@router.get("/checkin-lists/{list_id}/attendees", response_model=list[cs.AttendeeOut], summary="Find a ticket")
async def search_attendees(
    list_id: str,
    box: Box,
    door: Door,
    q: Annotated[str, Query(min_length=2, max_length=200, description="Part of a name or email, or an order id")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[cs.AttendeeOut]:
    """For checking in by hand (a buyer whose phone died): tickets of the list's event whose holder's name or email
    contains `q`, or whose order or ticket id is `q`, with what a scan would answer now. Check one in by sending
    its `ticket_id` to the scans endpoint."""
    found = await attendees.search(box.db, list_id, q, door, limit=limit)
    return [
        cs.AttendeeOut(
            ticket_id=a.ticket_id,
            ticket_type_id=a.ticket_type_id,
            ticket_type=a.ticket_type,
            holder_name=a.holder_name,
            email=a.email,
            order_id=a.order_id,
            result=a.result,
            checked_in_at=a.checked_in_at,
        )
        for a in found
    ]


@router.get("/checkin-lists/{list_id}/checkins", response_model=list[cs.CheckinOut], summary="Check-in records")
async def list_checkins(
    list_id: str,
    box: Box,
    door: Door,
    duplicate: Annotated[bool | None, Query(description="true: only the flagged duplicates; false: none")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[cs.CheckinOut]:
    """Newest first, undone ones included (organizer)."""
    records = await status.list_checkins(box.db, list_id, door, duplicate=duplicate, limit=limit, offset=offset)
    return [
        cs.CheckinOut(
            id=r.id,
            ticket_id=r.ticket_id,
            ticket_type_id=r.ticket_type_id,
            ticket_type=r.ticket_type,
            holder_name=r.holder_name,
            order_id=r.order_id,
            scanned_at=r.scanned_at,
            received_at=r.received_at,
            device=r.device,
            manual=r.manual,
            duplicate=r.duplicate,
            undone_at=r.undone_at,
        )
        for r in records
    ]


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/checkin-lists/{list_id}/offline",
    response_model=cs.OfflineOut,
    responses={304: {"description": "Not modified: the copy with this ETag is current"}},
    summary="The offline copy of a list",
)
async def offline(
    list_id: str,
    box: Box,
    door: Door,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=200)] = None,
) -> Response:
    """What a scanner keeps to decide without a network: every ticket of the event with the SHA-256 of its current
    code (never the code), its state, holder and admission. Send the `ETag` back in `If-None-Match`: 304 while
    nothing changed."""
    version = await status.offline_version(box.db, list_id, door)
    etag = f'"{version}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    copy = await status.offline_copy(box.db, list_id, door, keys=box.settings.signing_keys)
    headers["ETag"] = f'"{copy.version}"'
    event = copy.event
    body = {
        "version": copy.version,
        "list": list_out(copy.checkin_list).model_dump(mode="json"),
        "event": jsonable_encoder(
            {
                "id": event.id,
                "title": event.title,
                "starts_at": event.starts_at,
                "ends_at": event.ends_at,
                "timezone": event.timezone,
            }
        ),
        "device": {"id": door.device_id, "label": door.label} if door.device_id else None,
        "ticket_types": [{"id": t_id, "title": title} for t_id, title in copy.ticket_types],
        "tickets": [
            {
                "id": t.id,
                "ticket_type_id": t.ticket_type_id,
                "digest": t.digest,
                "state": t.state.value,
                "holder_name": t.holder_name,
                "order_id": t.order_id,
                "checked_in_at": t.checked_in_at.isoformat() if t.checked_in_at else None,
            }
            for t in copy.tickets
        ],
    }
    return JSONResponse(body, headers=headers)


@router.get(
    "/checkin-lists/{list_id}/stream",
    response_class=StreamingResponse,
    responses=SSE,
    summary="Live check-ins of a list (SSE)",
)
async def checkin_stream(list_id: str, request: Request, box: Box, door: Door, credentials: Credentials) -> Response:
    """First `checkin.status` (the counts), then every `checkin.created` (with `duplicate`) and `checkin.undone`
    as they happen, and `checkin.status` again at most once a second while they do (and after a reconnect of the
    broker): show the counts of the latest `checkin.status`, not a sum of the messages. The stream ends as soon as
    its token stops working (a device revoked, a member's console session ended, an API key revoked)."""
    await lists.get_list(box.db, list_id, door)

    async def snapshot() -> list[dict[str, Any]]:
        current = await status.list_status(box.db, list_id, door)
        return [{"type": "checkin.status", **status_body(current)}]

    still_valid = door_still_valid(box, credentials)
    return _stream(request, box, checkin_list_topic(list_id), snapshot, settle=STATUS_EVERY, is_valid=still_valid)


# -- door devices ----------------------------------------------------------------------------------------------


def pairing_url(box: Box, device: CheckinDevice, token: str) -> str:
    """The scanner page with the list and the token in the fragment (which never reaches a server or a log)."""
    return f"{box.public_url}/door/#list={device.list_id}&token={token}"


@router.post(
    "/events/{event_id}/devices", status_code=201, response_model=cs.DeviceCreated, summary="Add a door device"
)
async def create_device(event_id: str, body: cs.DeviceCreate, box: Box, door: Door) -> JSONResponse:
    """A token for one phone at one list (the default list unless `checkin_list_id`), shown once, with the pairing
    URL and its QR code: the phone opens the URL and can scan at once."""
    created = await devices.create_device(box.db, event_id, body.label, door, list_id=body.checkin_list_id)
    url = pairing_url(box, created.device, created.token)
    import segno  # here: a web worker loads segno on its first QR code, not at start

    qr: str = segno.make(url, error="m", micro=False).svg_inline(scale=4, light="#fff", omitsize=True)
    body_out = {**device_out(created.device), "token": created.token, "pairing_url": url, "pairing_qr_svg": qr}
    return JSONResponse(jsonable_encoder(body_out), status_code=201, headers=NO_STORE)


@router.get("/events/{event_id}/devices", response_model=list[cs.DeviceOut], summary="An event's door devices")
async def event_devices(event_id: str, box: Box, door: Door) -> list[dict[str, Any]]:
    """Revoked ones included (with `revoked_at`); tokens are never shown again."""
    return [device_out(d) for d in await devices.list_devices(box.db, event_id, door)]


@router.delete("/devices/{device_id}", status_code=204, summary="Revoke a door device")
async def revoke_device(device_id: str, box: Box, door: Door) -> Response:
    """The token is refused (401) from now on and its open streams end. Revoking a team member's scanner also signs
    out the console session that opened it, so that session cannot open another one."""
    await box.devices.revoke(device_id, door)
    box.live_checks.forget()  # a member's scanner takes its console session along: that session's streams end
    return Response(status_code=204)
