"""An event's vouchers and access codes (owners and managers), over ``ticketing.voucher_codes`` as the API uses it
(the same rules and error codes): the list with uses, what remains, validity and reservations, 100 codes a page with
a search by the start of a code (``ticketing.voucher_search``); a new code, or a number of generated ones with a
prefix; edit; delete; the codes as CSV (all, or one batch of generated codes).

Deleting follows the service: the code stops working at once and the tickets set aside for it go back to sale; a
voucher that orders used is kept (hidden) for their records, and its code may be given to a new voucher. Waiting-list
offers are vouchers too: they are shown and managed on the waiting-list page, not here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.errors import InvalidInput, NotFound, SoldOut
from boxoffice.events.models import Event
from boxoffice.ticketing import ticket_types as ticket_service
from boxoffice.ticketing import voucher_codes as service
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.voucher_models import Voucher
from boxoffice.ticketing.voucher_search import page_vouchers
from boxoffice.web.console.access import ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render
from boxoffice.web.console.voucher_form import (
    DISCOUNT_KINDS,
    add_service_errors,
    form_values,
    voucher_fields,
    voucher_row,
)

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
CSV = "text/csv; charset=utf-8"
NOTICES = {
    "created": "Voucher created.",
    "generated": "Codes generated.",
    "saved": "Voucher saved.",
    "deleted": "Voucher deleted: its code no longer works and the tickets set aside for it are on sale again. "
    "Orders placed with it keep their prices and their record of it.",
}


async def _tickets(request: Request, event: Event) -> list[TicketType]:
    return await ticket_service.list_ticket_types(_box(request).db, event.id)


def _checked(raw: dict[str, list[str]], tickets: list[TicketType]) -> dict[str, list[str]]:
    """The ticked boxes, kept to the ids the form offered (a forged id goes on to the service, which refuses it)."""
    return {name: [v for v in values if isinstance(v, str)][: len(tickets) + 1] for name, values in raw.items()}


async def _read(request: Request, tickets: list[TicketType]) -> tuple[ConsoleForm, dict[str, list[str]]]:
    form = await ConsoleForm.read(request)
    raw = await request.form()
    checked = {name: [v for v in raw.getlist(name) if isinstance(v, str)] for name in ("ticket_ids", "unlocks")}
    return form, _checked(checked, tickets)


def _form_context(
    event: Event, tickets: list[TicketType], form: ConsoleForm, checked: dict[str, list[str]]
) -> dict[str, Any]:
    return {
        "event": event,
        "form": form,
        "checked": checked,
        "visible": [tt for tt in tickets if not tt.hidden],
        "hidden": [tt for tt in tickets if tt.hidden],
        "kinds": DISCOUNT_KINDS,
        "currency": (event.currency or "usd").upper(),
    }


async def _list_page(
    request: Request,
    event: Event,
    *,
    form: ConsoleForm | None = None,
    checked: dict[str, list[str]] | None = None,
    notice: str | None = None,
    batch: str | None = None,
    q: str = "",
    after: str | None = None,
    status: int = 200,
) -> Response:
    tickets = await _tickets(request, event)
    page = await page_vouchers(_box(request).db, event.id, kind="voucher", prefix=q, cursor=after)
    context = {
        **_form_context(event, tickets, form or ConsoleForm({"discount_kind": "percent"}), checked or {}),
        "rows": [voucher_row(v, event, tickets) for v in page.vouchers],
        "page": page,
        "q": q,
        "first_page": after is None,
        "notice": notice,
        "batch": batch,
    }
    return render(request, "console/vouchers.html", context, status=status)


@router.get("/manage/events/{event_id}/vouchers")
async def vouchers_page(
    request: Request,
    event_id: str,
    member: OwnerOrManager,
    done: Annotated[str, Query(max_length=32)] = "",
    batch: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """``q``: only the codes that start with it (any case); ``after``: the page after the one that ended there."""
    event = await owned_event(request, member, event_id)
    batch = batch if done == "generated" else None
    return await _list_page(request, event, notice=NOTICES.get(done), batch=batch, q=q.strip(), after=after or None)


def _problems(form: ConsoleForm, exc: InvalidInput | SoldOut, currency: str) -> None:
    add_service_errors(form, exc.errors if isinstance(exc, InvalidInput) else exc.field_errors(), currency)
    if isinstance(exc, SoldOut) and not exc.field:
        form.add(exc.detail)


@router.post("/manage/events/{event_id}/vouchers")
async def create_vouchers(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    tickets = await _tickets(request, event)
    form, checked = await _read(request, tickets)
    try:
        fields = voucher_fields(form, checked, event, creating=True)
        created = await service.create_vouchers(_box(request).db, event.id, fields, organizer_id=member.organizer_id)
    except (InvalidInput, SoldOut) as exc:
        _problems(form, exc, event.currency or "usd")
        return await _list_page(request, event, form=form.shown(), checked=checked, status=422)
    if created.batch_id is None:
        return RedirectResponse(f"/manage/events/{event.id}/vouchers?done=created", status_code=303)
    where = f"/manage/events/{event.id}/vouchers?done=generated&batch={created.batch_id}"
    return RedirectResponse(where, status_code=303)


@router.get("/manage/events/{event_id}/vouchers.csv")
async def export_vouchers(
    request: Request, event_id: str, member: OwnerOrManager, batch: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    """The codes as CSV (the service's export, the API's too): all the event's vouchers, or one batch."""
    event = await owned_event(request, member, event_id)
    body = await service.export_csv(_box(request).db, event.id, batch_id=batch or None)
    name = f"vouchers-{event.id}.csv"  # the event's id, read from the database
    return Response(body, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _voucher(request: Request, event: Event, voucher_id: str, organizer_id: str) -> Voucher:
    voucher = await service.get_voucher(_box(request).db, voucher_id[:64], organizer_id=organizer_id)
    if voucher.event_id != event.id or voucher.kind != "voucher":
        raise NotFound("voucher not found")  # an offer's code is the waiting list's
    return voucher


def _edit_page(
    request: Request,
    event: Event,
    voucher: Voucher,
    tickets: list[TicketType],
    form: ConsoleForm,
    checked: dict[str, list[str]],
    *,
    status: int = 200,
) -> Response:
    context = {**_form_context(event, tickets, form, checked), "voucher": voucher}
    return render(request, "console/voucher_form.html", context, status=status)


@router.get("/manage/events/{event_id}/vouchers/{voucher_id}")
async def edit_voucher(request: Request, event_id: str, voucher_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    voucher = await _voucher(request, event, voucher_id, member.organizer_id)
    values, checked = form_values(voucher, event)
    return _edit_page(request, event, voucher, await _tickets(request, event), ConsoleForm(values), checked)


@router.post("/manage/events/{event_id}/vouchers/{voucher_id}")
async def update_voucher(request: Request, event_id: str, voucher_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    voucher = await _voucher(request, event, voucher_id, member.organizer_id)
    tickets = await _tickets(request, event)
    form, checked = await _read(request, tickets)
    try:
        fields = voucher_fields(form, checked, event, creating=False)
        await service.update_voucher(_box(request).db, voucher.id, fields, organizer_id=member.organizer_id)
    except (InvalidInput, SoldOut) as exc:
        _problems(form, exc, event.currency or "usd")
        return _edit_page(request, event, voucher, tickets, form.shown(), checked, status=422)
    return RedirectResponse(f"/manage/events/{event.id}/vouchers?done=saved", status_code=303)


@router.post("/manage/events/{event_id}/vouchers/{voucher_id}/delete")
async def delete_voucher(request: Request, event_id: str, voucher_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    voucher = await _voucher(request, event, voucher_id, member.organizer_id)
    await service.delete_voucher(_box(request).db, voucher.id, organizer_id=member.organizer_id)
    return RedirectResponse(f"/manage/events/{event.id}/vouchers?done=deleted", status_code=303)
