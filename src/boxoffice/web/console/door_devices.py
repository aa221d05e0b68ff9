"""Door devices in the console (owners and managers), over ``checkin.devices`` as the API uses it: pair a phone
(a label and a list; its token is shown once, as a QR code of the pairing link and as the link's text, on the
answer to the form and never again), the event's paired devices (created, last used, revoked) and the team
members' scanners that are open now (see ``checkin``), each revocable: a revoked token is refused (401) at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from boxoffice.checkin import devices, lists
from boxoffice.errors import InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.web.console.access import ConsoleRoute, Member, OwnerOrManager, _box
from boxoffice.web.console.checkin import member_scanner
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
NOTICES = {"revoked": "Revoked: that token is refused from now on."}


def pairing_qr(url: str) -> Markup:
    """The pairing link as an inline SVG QR code (segno's output: no script, no style, only our URL in it)."""
    import segno  # here: a web worker loads segno on its first QR code, not at start

    svg = segno.make(url, error="m", micro=False).svg_inline(scale=5, light="#fff", omitsize=True, svgclass="qr")
    return Markup(svg)  # noqa: S704 - segno writes the markup; the URL is ours (origin, list id, urlsafe token)


async def _page(
    request: Request,
    member: Member,
    event: Event,
    *,
    form: ConsoleForm | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    db = _box(request).db
    scanner = member_scanner(member, event.id)
    event_lists = await lists.list_lists(db, event.id, scanner)
    names = {lst.id: lst.name for lst in event_lists}
    context = {
        "event": event,
        "paired": await devices.list_devices(db, event.id, scanner, members=False),
        "members": await devices.open_member_scanners(db, event.id, scanner),
        "list_names": names,
        "list_options": [(lst.id, lst.name) for lst in event_lists],
        "form": form or ConsoleForm({"checkin_list_id": event_lists[0].id if event_lists else ""}, prefix="dev-"),
        "notice": notice,
    }
    return render(request, "console/door_devices.html", context, status=status_code)


@router.get("/manage/events/{event_id}/checkin/devices")
async def devices_page(
    request: Request, event_id: str, member: OwnerOrManager, done: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    event = await owned_event(request, member, event_id)
    return await _page(request, member, event, notice=NOTICES.get(done))


@router.post("/manage/events/{event_id}/checkin/devices")
async def create_device(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    """The answer shows the token (no redirect: it must not sit in a URL or be shown twice)."""
    event = await owned_event(request, member, event_id)
    form = await ConsoleForm.read(request, prefix="dev-")
    box = _box(request)
    try:
        created = await devices.create_device(
            box.db, event.id, form.get("label"), member_scanner(member, event.id), list_id=form.get("checkin_list_id")
        )
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return await _page(request, member, event, form=form.shown(), status_code=422)
    link = f"{box.public_url}/door/#list={created.device.list_id}&token={created.token}"
    context = {
        "event": event,
        "device": created.device,
        "link": link,
        "qr": pairing_qr(link),
        "list_name": (await lists.get_list(box.db, created.device.list_id, member_scanner(member, event.id)))[0].name,
    }
    return render(request, "console/door_device_created.html", context, status=201)


@router.post("/manage/events/{event_id}/checkin/devices/{device_id}/revoke")
async def revoke_device(request: Request, event_id: str, device_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    box = _box(request)
    known = {d.id for d in await devices.list_devices(box.db, event.id, member_scanner(member, event.id))}
    if device_id not in known:  # another event's device (of this organizer or another): not found here
        raise NotFound("device not found")
    await box.devices.revoke(device_id, member_scanner(member, event.id))
    box.live_checks.forget()  # a member's scanner takes its console session along: that session's streams end
    return RedirectResponse(f"/manage/events/{event.id}/checkin/devices?done=revoked", status_code=303)
