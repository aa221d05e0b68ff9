"""Outgoing webhook endpoints (owners and managers, ``Action.MANAGE_WEBHOOKS``), over ``integrations.endpoints`` and
``integrations.deliveries`` as the API uses them: the list, a new endpoint (its signing secret shown once, on the
answer to the form, never again), enable or disable, roll the secret (the old one keeps signing for the overlap
chosen), delete (after a confirmation), and an endpoint's delivery log with a redeliver button."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.accounts.roles import Action, roles_permitted
from boxoffice.errors import Conflict, InvalidInput
from boxoffice.integrations import deliveries as log
from boxoffice.integrations import endpoints as service
from boxoffice.integrations.catalog import ALL_TYPES, EVENT_TYPES
from boxoffice.integrations.endpoints import CreatedSecret
from boxoffice.integrations.models import WebhookEndpoint
from boxoffice.web.console.access import ConsoleRoute, Member, _box, require
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

WebhookManager = Annotated[Member, Depends(require(*roles_permitted(Action.MANAGE_WEBHOOKS)))]
LOG_PAGE = 50
NOTICES = {
    "enabled": "Endpoint enabled: new events are sent to it again.",
    "disabled": "Endpoint disabled: nothing is sent to it; its pending deliveries ended as failed.",
    "deleted": "Endpoint deleted, with its delivery log.",
    "redelivered": "Delivery queued again: it is sent within seconds.",
}
PROBLEMS = {
    "disabled": "This endpoint is disabled: enable it first, then redeliver.",
    "bad-overlap": "Please choose how long the old secret keeps working: from 0 to 24 hours.",
}
TYPE_WORDS = {ALL_TYPES: "Every event type (also those added later)"} | {name: name for name in EVENT_TYPES}


def _form_page(
    request: Request,
    endpoints: list[WebhookEndpoint],
    *,
    form: ConsoleForm | None = None,
    chosen: list[str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "endpoints": endpoints,
        "form": form or ConsoleForm({"description": "", "enabled": "yes"}, prefix="hook-"),
        "chosen": chosen if chosen is not None else [ALL_TYPES],
        "types": list(TYPE_WORDS.items()),
        "notice": notice,
    }
    return render(request, "console/webhooks.html", context, status=status)


@router.get("/manage/webhooks")
async def webhooks_page(
    request: Request, member: WebhookManager, done: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    endpoints = await service.list_endpoints(_box(request).db, member.organizer_id)
    return _form_page(request, endpoints, notice=NOTICES.get(done))


def _secret_page(request: Request, created: CreatedSecret, *, rolled: bool, status: int) -> Response:
    """The answer that shows a new secret (no redirect: it must not sit in a URL or be shown twice)."""
    context = {"endpoint": created.endpoint, "secret": created.secret, "rolled": rolled}
    return render(request, "console/webhook_secret.html", context, status=status)


@router.post("/manage/webhooks")
async def create_webhook(request: Request, member: WebhookManager) -> Response:
    box = _box(request)
    form = await ConsoleForm.read(request, prefix="hook-")
    chosen = [v for v in (await request.form()).getlist("event_types") if isinstance(v, str)][: len(TYPE_WORDS)]
    try:
        created = await service.create_endpoint(
            box.db,
            member.organizer_id,
            url=form.get("url"),
            event_types=chosen,
            description=form.get("description"),
            enabled=form.get("enabled") != "no",
            policy=box.webhook_policy,
        )
    except InvalidInput as exc:  # event_types[2] is the checkboxes' fault: one group of them on the form
        form.add_errors(
            exc.errors, rename={e.field: "event_types" for e in exc.errors if e.field[:11] == "event_types"}
        )
    except Conflict:
        form.add(f"You have {service.MAX_ENDPOINTS} endpoints, the most there can be: delete one first.")
    else:
        return _secret_page(request, created, rolled=False, status=201)
    endpoints = await service.list_endpoints(box.db, member.organizer_id)
    return _form_page(request, endpoints, form=form.shown(), chosen=chosen, status=422)


@router.get("/manage/webhooks/{endpoint_id}")
async def endpoint_page(
    request: Request,
    endpoint_id: str,
    member: WebhookManager,
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=0, le=10_000)] = 0,
    done: Annotated[str, Query(max_length=32)] = "",
    problem: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    db = _box(request).db
    endpoint = await service.get_endpoint(db, endpoint_id[:64], member.organizer_id)
    chosen = status if status in log.DELIVERY_STATUSES else ""
    rows = await log.list_deliveries(
        db, endpoint.id, member.organizer_id, status=chosen or None, limit=LOG_PAGE + 1, offset=page * LOG_PAGE
    )
    context = {
        "endpoint": endpoint,
        "deliveries": rows[:LOG_PAGE],
        "more": len(rows) > LOG_PAGE,
        "page": page,
        "status": chosen,
        "statuses": log.DELIVERY_STATUSES,
        "notice": NOTICES.get(done),
        "problem": PROBLEMS.get(problem),
        "type_words": TYPE_WORDS,
    }
    return render(request, "console/webhook.html", context)


def _back(endpoint_id: str, query: str) -> Response:
    return RedirectResponse(f"/manage/webhooks/{endpoint_id}?{query}", status_code=303)


@router.post("/manage/webhooks/{endpoint_id}/enabled")
async def set_enabled(request: Request, endpoint_id: str, member: WebhookManager) -> Response:
    box = _box(request)
    enabled = (await ConsoleForm.read(request)).get("enabled") == "yes"
    endpoint = await service.update_endpoint(
        box.db, endpoint_id[:64], member.organizer_id, {"enabled": enabled}, policy=box.webhook_policy
    )
    return _back(endpoint.id, "done=enabled" if enabled else "done=disabled")


@router.post("/manage/webhooks/{endpoint_id}/roll")
async def roll_secret(request: Request, endpoint_id: str, member: WebhookManager) -> Response:
    text = (await ConsoleForm.read(request)).get("overlap_hours") or "24"
    hours = int(text) if text.isdigit() and len(text) <= 2 else -1
    if not 0 <= hours <= 24:
        await service.get_endpoint(_box(request).db, endpoint_id[:64], member.organizer_id)  # 404 first
        return _back(endpoint_id[:64], "problem=bad-overlap")
    created = await service.roll_secret(
        _box(request).db, endpoint_id[:64], member.organizer_id, overlap=timedelta(hours=hours)
    )
    return _secret_page(request, created, rolled=True, status=200)


@router.post("/manage/webhooks/{endpoint_id}/delete")
async def delete_webhook(request: Request, endpoint_id: str, member: WebhookManager) -> Response:
    await service.delete_endpoint(_box(request).db, endpoint_id[:64], member.organizer_id)
    return RedirectResponse("/manage/webhooks?done=deleted", status_code=303)


@router.post("/manage/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, endpoint_id: str, delivery_id: str, member: WebhookManager) -> Response:
    box = _box(request)
    try:
        await log.redeliver(
            box.db, endpoint_id[:64], delivery_id[:64], member.organizer_id, retry_for=box.webhook_retry_for
        )
    except Conflict:
        return _back(endpoint_id[:64], "problem=disabled")
    box.webhook_sender.kick()
    return _back(endpoint_id[:64], "done=redelivered")
