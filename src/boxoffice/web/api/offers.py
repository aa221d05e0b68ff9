"""The voucher and waiting-list API: organizers manage vouchers (and access codes) and see their waiting lists;
buyers join a sold-out ticket type's waiting list and leave it. The rules are ticketing's (``voucher_codes``,
``waitlist``); this module maps them to HTTP."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from boxoffice.errors import NotFound
from boxoffice.ticketing import tokens, voucher_codes, waitlist, waitlist_offers
from boxoffice.web.api import offer_schemas as o
from boxoffice.web.api.deps import Box, Credentials, Organizer
from boxoffice.web.api.routes import PROBLEMS, own_event
from boxoffice.web.ratelimit import admit_order

router = APIRouter(prefix="/api/v1", responses=PROBLEMS)
CSV = "text/csv; charset=utf-8"
CSV_EXAMPLE = (
    "code,batch,discount,ticket_ids,max_uses,uses,remaining,max_per_order,valid_from,valid_until,reserve\r\n"
    "VIP-7KQ2M9XPAB,vb_0d9c8b7a6f5e4d3c2b1a,free,,1,0,1,,,2027-06-12T17:00:00Z,0\r\n"
    "VIP-H4TN8RWC3D,vb_0d9c8b7a6f5e4d3c2b1a,free,,1,1,0,,,2027-06-12T17:00:00Z,0\r\n"
)


# -- organizer: vouchers -------------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/vouchers",
    status_code=201,
    response_model=o.VouchersCreated,
    tags=["organizer"],
    summary="Create a voucher (or generate codes)",
)
async def create_vouchers(
    event_id: str,
    body: Annotated[o.VoucherCreate, Body(openapi_examples=o.VOUCHER_EXAMPLES)],
    box: Box,
    organizer: Organizer,
) -> o.VouchersCreated:
    """One voucher with `code`, or `count` vouchers with generated codes (`prefix` first), all with the same terms:
    a discount, the ticket types it applies to, hidden ones it unlocks (an access code), limits and validity. With
    `reserve`, each sets that many tickets aside from what the public can buy (409 when there are not enough, for
    all of them or none). A code the event already has, in any case: 422 on `code`. Generated codes are exported
    with the answer's `csv_url`."""
    created = await voucher_codes.create_vouchers(
        box.db, event_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id
    )
    batch = created.batch_id
    return o.VouchersCreated(
        vouchers=[o.voucher_out(v) for v in created.vouchers],
        batch_id=batch,
        csv_url=f"/api/v1/events/{event_id}/vouchers.csv?batch_id={batch}" if batch else None,
    )


@router.get("/events/{event_id}/vouchers", response_model=list[o.VoucherOut], tags=["organizer"], summary="Vouchers")
async def list_vouchers(
    event_id: str,
    box: Box,
    organizer: Organizer,
    kind: Annotated[
        Literal["voucher", "waitlist"] | None,
        Query(description="`voucher`: the organizer's codes; `waitlist`: the waiting list's offers; unset: both."),
    ] = None,
    batch_id: Annotated[str | None, Query(max_length=32, description="Only the codes generated together.")] = None,
) -> list[o.VoucherOut]:
    """The event's vouchers, oldest first, with their uses (tickets in pending and paid orders) and what remains,
    and the tickets still set aside for their holders. Deleted vouchers are left out."""
    await own_event(box, organizer, event_id)
    return [o.voucher_out(v) for v in await voucher_codes.list_vouchers(box.db, event_id, kind=kind, batch_id=batch_id)]


@router.get(
    "/events/{event_id}/vouchers.csv",
    tags=["organizer"],
    summary="Voucher codes as CSV",
    response_class=Response,
    responses={
        200: {
            "content": {CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
            "description": "One voucher per row, under a header row",
        }
    },
)
async def export_vouchers(
    event_id: str,
    box: Box,
    organizer: Organizer,
    batch_id: Annotated[
        str | None, Query(max_length=32, description="Only the codes generated together (a `batch_id`).")
    ] = None,
) -> Response:
    """The codes (of one batch of generated codes, or all the event's vouchers; not the waiting list's offers) with
    their terms and uses: `code`, `batch`, `discount` in words, `ticket_ids` (space-separated; empty: every visible
    one), `max_uses`, `uses`, `remaining`, `max_per_order`, `valid_from`, `valid_until` (UTC), `reserve`."""
    await own_event(box, organizer, event_id)
    body = await voucher_codes.export_csv(box.db, event_id, batch_id=batch_id)
    name = f"vouchers-{event_id}.csv"  # the event's id, read from the database: nothing the request chose
    return Response(body, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/vouchers/{voucher_id}", response_model=o.VoucherOut, tags=["organizer"], summary="Get a voucher")
async def get_voucher(voucher_id: str, box: Box, organizer: Organizer) -> o.VoucherOut:
    """One of the organizer's vouchers (or a waiting-list offer's code), with its uses and what remains; another
    organizer's, or a deleted one, is 404."""
    return o.voucher_out(await voucher_codes.get_voucher(box.db, voucher_id, organizer_id=organizer.id))


@router.patch("/vouchers/{voucher_id}", response_model=o.VoucherOut, tags=["organizer"], summary="Change a voucher")
async def patch_voucher(voucher_id: str, body: o.VoucherFields, box: Box, organizer: Organizer) -> o.VoucherOut:
    """Only the fields sent change (the same rules as creating). Orders already placed keep their prices; an
    order being placed with the old terms is priced again. `max_uses` cannot go below the uses taken (422); the
    reservation
    follows `reserve`, counting the tickets already taken through it. A waiting-list offer is changed through the
    waiting list (409)."""
    voucher = await voucher_codes.update_voucher(
        box.db, voucher_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id
    )
    return o.voucher_out(voucher)


@router.delete("/vouchers/{voucher_id}", status_code=204, tags=["organizer"], summary="Delete a voucher")
async def delete_voucher(voucher_id: str, box: Box, organizer: Organizer) -> Response:
    """The code stops working at once and its reservation's tickets go back to sale (the waiting list first). A
    voucher orders used is kept, hidden, for their records; its code may be given to a new voucher. A waiting-list
    offer is ended through the waiting list (409)."""
    await voucher_codes.delete_voucher(box.db, voucher_id, organizer_id=organizer.id)
    return Response(status_code=204)


# -- organizer: waiting lists ----------------------------------------------------------------------------------------


@router.get(
    "/events/{event_id}/waiting-list",
    response_model=list[o.OrganizerWaitingEntryOut],
    tags=["organizer"],
    summary="Waiting-list entries",
)
async def waiting_list(
    event_id: str,
    box: Box,
    organizer: Organizer,
    ticket_id: Annotated[str | None, Query(max_length=64, description="Only this ticket type's list.")] = None,
    status: Annotated[
        Literal["waiting", "offered", "converted", "left", "expired"] | None,
        Query(description="Only the entries in this state."),
    ] = None,
) -> list[o.OrganizerWaitingEntryOut]:
    """Entries in the order they joined, with their places in line (per ticket type), their offers (code, sent,
    expiry) and conversions (the order that bought an offer's tickets)."""
    await own_event(box, organizer, event_id)
    views = await waitlist.list_entries(box.db, event_id, ticket_type_id=ticket_id, status=status)
    return [o.organizer_entry_out(v) for v in views]


@router.post(
    "/waiting-list/{entry_id}/offer",
    response_model=o.OrganizerWaitingEntryOut,
    tags=["organizer"],
    summary="Send an entry its offer now",
)
async def offer_now(entry_id: str, box: Box, organizer: Organizer) -> o.OrganizerWaitingEntryOut:
    """Whatever its place: the tickets come from those held back for the list first, then from what the public can
    buy (409 when there are not enough, or when the entry is not waiting nor expired)."""
    return o.organizer_entry_out(await waitlist_offers.offer_by_hand(box.db, entry_id, organizer_id=organizer.id))


# -- buyers ----------------------------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/waiting-list",
    status_code=201,
    response_model=o.WaitingEntryOut,
    tags=["buyers"],
    summary="Join a sold-out ticket type's waiting list",
    responses={
        200: {"model": o.WaitingEntryOut, "description": "This email address was already on the list: its entry"},
        429: {
            "model": PROBLEMS[409]["model"],
            "content": {"application/problem+json": {}},
            "description": "Too many requests from this address",
        },
    },
)
async def join_waiting_list(event_id: str, body: o.WaitingListJoin, request: Request, box: Box) -> Response:
    """201 with the entry and its place in line (an email confirms it, with a link to leave); 200 with the existing
    entry when the address is already on the list. 409 while the ticket type is on sale or has no waiting list."""
    await admit_order(request, box.order_limiter, box.settings.secret_bytes)
    view = await waitlist.join(
        box.db,
        event_id,
        email=body.email,
        name=body.name,
        ticket_type_id=body.ticket_id,
        quantity=body.quantity,
        max_quantity=box.settings.max_quantity_per_line,
    )
    return JSONResponse(o.entry_out(view).model_dump(mode="json"), status_code=201 if view.created else 200)


@router.post(
    "/waiting-list/{entry_id}/leave",
    response_model=o.WaitingEntryOut,
    tags=["buyers"],
    summary="Leave the waiting list",
)
async def leave_waiting_list(
    entry_id: str,
    box: Box,
    credentials: Credentials,
    token: Annotated[str | None, Query(max_length=200, description="The token of the emailed link.")] = None,
) -> o.WaitingEntryOut:
    """With the token of the link in the emails (`?token=` or `Authorization: Bearer`); an offer held is passed on."""
    given = credentials.credentials if credentials is not None else token
    if not given or not tokens.entry_token_opens(entry_id, given, box.settings.signing_keys):
        raise NotFound("waiting-list entry not found")  # the same answer for a wrong token and an unknown entry
    return o.entry_out(await waitlist.leave(box.db, entry_id))
