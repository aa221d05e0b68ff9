"""Outgoing webhooks over the API: an organizer's endpoints, their signing secrets and delivery logs (API key).
The rules live in ``boxoffice.integrations``; this module only maps requests and answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt

from boxoffice.integrations import deliveries as log
from boxoffice.integrations import endpoints as service
from boxoffice.integrations.addresses import MAX_URL_LENGTH, URL_PATTERN
from boxoffice.integrations.catalog import ALL_TYPES, API_VERSION, EVENT_TYPES
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.web.api.deps import Box, Organizer
from boxoffice.web.api.described import about
from boxoffice.web.api.fields import NO_NUL_PATTERN, Matches, OneOf
from boxoffice.web.api.routes import PROBLEMS
from boxoffice.web.api.schemas import Strict

router = APIRouter(prefix="/api/v1", responses=PROBLEMS, tags=["webhooks"])

EventType = Annotated[
    str,
    OneOf((*EVENT_TYPES, ALL_TYPES), f"is not an event type (one of {', '.join(EVENT_TYPES)} or *)"),
    Field(description="A webhook event type, or `*` for every type (also those added later)."),
]
WebhookUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_LENGTH,
        description="Where events are POSTed: https:// (http:// outside production), no user info or fragment. An "
        "address given as an IP must be public (not private, loopback, link-local, multicast or reserved: a rule "
        "answered with 422); a name is checked after it resolves, at every delivery.",
        examples=["https://hooks.example.com/boxoffice"],
    ),
    Matches(URL_PATTERN, "must be an http:// or https:// URL without user info, white space or fragment"),
]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=20)]
EndpointDescription = Annotated[str, Field(max_length=500), Matches(NO_NUL_PATTERN, "must not contain U+0000")]


# What the fields of an endpoint mean, in its request and response bodies alike.
_URL = "Where events are POSTed."
_TYPES = (
    "The event types sent to it (`order.created`, `order.confirmed`, `order.canceled`, `order.expired`, "
    "`order.refunded`, `ticket.transferred`, `checkin.created`, `waiting_list.offered`), or `*` for all of them, "
    "also those added later."
)
_TYPES_EXAMPLE = ["order.confirmed", "order.refunded"]
_ENABLED = "Whether events are sent to it."
_DESCRIPTION = "A note for the organizer, to tell endpoints apart (at most 500 characters; may be empty)."
_WHEN_DOWN = "When it was disabled, in UTC; null while enabled."
_EXAMPLE_EVENT = {
    "id": "evt_6b1f3d5a7c9e2b4d6f8a",
    "object": "event",
    "type": "order.confirmed",
    "api_version": API_VERSION,
    "created": 1811925720,
    "data": {
        "object": {
            "id": "ord_5f0c2a9e7b31d4c86a0f",
            "object": "order",
            "event_id": "ev_b9aea6add483ac60e4eb",
            "status": "confirmed",
            "email": "ada@example.com",
            "currency": "eur",
            "total_cents": 4300,
        },
        "previous_status": "pending",
    },
}


class EndpointCreate(Strict):
    url: WebhookUrl
    event_types: EventTypes = about(_TYPES, _TYPES_EXAMPLE)
    enabled: StrictBool = about(_ENABLED + " Default true.", True, default=True)
    description: EndpointDescription = about(_DESCRIPTION, "Order sync to our CRM", default="")


class EndpointPatch(Strict):
    """The fields to change (a null is the same as leaving the field out). Enabling an endpoint disabled after
    failures starts it afresh; disabling one ends its pending deliveries as failed (redeliverable)."""

    url: WebhookUrl | None = about(
        _URL + " https:// (http:// outside production), no user info or fragment; an IP address must be public.",
        "https://hooks.example.com/boxoffice/v2",
        default=None,
    )
    event_types: EventTypes | None = about(_TYPES + " Replaces the current list.", ["*"], default=None)
    enabled: StrictBool | None = about(
        _ENABLED + " true starts a disabled endpoint afresh; false ends its pending deliveries as failed.",
        False,
        default=None,
    )
    description: EndpointDescription | None = about(_DESCRIPTION, "Order sync (new CRM)", default=None)


class RollSecret(Strict):
    previous_secret_hours: Annotated[StrictInt, Field(ge=0, le=24)] = about(
        "How many hours the current secret keeps signing beside the new one (0: stop at once; default 24).",
        2,
        default=24,
    )


class EndpointOut(BaseModel):
    id: str = about("The endpoint's id.", "we_8d2f4a6c1e3b5d7f9a0c")
    url: str = about(_URL, "https://hooks.example.com/boxoffice")
    description: str = about(_DESCRIPTION, "Order sync to our CRM")
    event_types: list[str] = about(_TYPES, _TYPES_EXAMPLE)
    enabled: bool = about(_ENABLED, True)
    disabled_reason: Literal["organizer", "failing"] | None = about(
        "Why a disabled endpoint is disabled: turned off by the organizer, or after a day of failures; null while "
        "enabled.",
        None,
    )
    disabled_at: datetime | None = about(_WHEN_DOWN, None)
    failing_since: datetime | None = about(
        "The first failed attempt since the last successful one, in UTC; null while deliveries succeed.",
        "2027-05-20T14:02:11Z",
    )
    previous_secret_expires_at: datetime | None = about(
        "Until when the previous secret still signs (a second v1 in Boxoffice-Signature), in UTC; null when there "
        "is none.",
        "2027-05-21T09:00:00Z",
    )
    api_version: str = about("The version of the event payloads sent to it.", API_VERSION)
    created_at: datetime = about("When the endpoint was registered, in UTC.", "2027-01-15T11:00:00Z")
    updated_at: datetime = about("When it was last changed, in UTC.", "2027-05-20T09:00:00Z")


class EndpointWithSecret(EndpointOut):
    secret: str = about(
        "The signing secret: shown this once, keep it (it is never shown again). Check each delivery's "
        "Boxoffice-Signature with it.",
        "whsec_5mQ8rT2vX7zB4nD9fH1kL6pS3wY0cE8gJ2uA4oN_xZq",
    )


class DeliveryOut(BaseModel):
    id: str = about("The delivery's id: one event sent to one endpoint.", "whd_2a4c6e8b0d1f3a5c7e9b")
    event_id: str = about(
        "The webhook event's id (`evt_...`): the same in every attempt and redelivery.", "evt_6b1f3d5a7c9e2b4d6f8a"
    )
    event_type: str = about("The event's type.", "order.confirmed")
    status: Literal["pending", "delivered", "failed"] = about(
        "`pending`: being tried (again); `delivered`: an attempt was answered with a 2xx status; `failed`: it "
        "gave up (retries ran out, or the endpoint was disabled). Any delivery can be sent again (`.../redeliver`).",
        "delivered",
    )
    attempts: int = about("Attempts started so far.", 2)
    last_status_code: int | None = about(
        "The status code of the last attempt's answer; null: no attempt yet, or no answer came.", 200
    )
    last_error: str | None = about(
        "What went wrong when the last attempt got no answer (a timeout, a refused address, a network error), or "
        "why the delivery was ended; null otherwise.",
        None,
    )
    last_attempt_at: datetime | None = about(
        "When the last attempt started, in UTC; null before the first.", "2027-05-20T14:07:12Z"
    )
    next_attempt_at: datetime | None = about("Pending only: when it is tried next, in UTC; null otherwise.", None)
    delivered_at: datetime | None = about(
        "When an attempt succeeded, in UTC; null until one does.", "2027-05-20T14:07:12Z"
    )
    created_at: datetime = about("When the delivery was created (the event happened), in UTC.", "2027-05-20T14:02:10Z")


class AttemptOut(BaseModel):
    attempt: int = about("The attempt's number, from 1.", 1)
    started_at: datetime = about("When it started, in UTC.", "2027-05-20T14:02:11Z")
    duration_ms: int = about("How long it took until the answer was read or it failed, in milliseconds.", 10003)
    status_code: int | None = about("The answer's status code; null: no answer came.", None)
    error: str | None = about(
        "What went wrong when no answer came (a timeout, a refused address, a network error); null otherwise.",
        "timeout: no complete answer within 10 s",
    )
    response_excerpt: str | None = about("The start of the answer's body (at most 500 characters); null: none.", None)


class DeliveryDetailOut(DeliveryOut):
    attempts_log: list[AttemptOut] = about(
        "Its attempts, first first.",
        [
            {
                "attempt": 1,
                "started_at": "2027-05-20T14:02:11Z",
                "duration_ms": 10003,
                "status_code": None,
                "error": "timeout: no complete answer within 10 s",
                "response_excerpt": None,
            },
            {
                "attempt": 2,
                "started_at": "2027-05-20T14:07:12Z",
                "duration_ms": 84,
                "status_code": 200,
                "error": None,
                "response_excerpt": "ok",
            },
        ],
    )
    event: dict[str, Any] = about("The event exactly as it is sent.", _EXAMPLE_EVENT)


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types),
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since,
        previous_secret_expires_at=endpoint.previous_secret_expires_at if endpoint.previous_secret else None,
        api_version=API_VERSION,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def with_secret(created: service.CreatedSecret) -> EndpointWithSecret:
    return EndpointWithSecret(**endpoint_out(created.endpoint).model_dump(), secret=created.secret)


def delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_attempt_at": delivery.last_attempt_at,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == "pending" else None,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
    }


def attempt_out(attempt: WebhookAttempt) -> AttemptOut:
    return AttemptOut.model_validate(attempt, from_attributes=True)


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=EndpointWithSecret,
    summary="Register a webhook endpoint",
)
async def create_endpoint(body: EndpointCreate, box: Box, organizer: Organizer) -> EndpointWithSecret:
    """The answer carries the endpoint's signing secret, shown this once. At most 16 endpoints per organizer (409
    beyond)."""
    created = await service.create_endpoint(
        box.db,
        organizer.id,
        url=body.url,
        event_types=body.event_types,
        enabled=body.enabled,
        description=body.description,
        policy=box.webhook_policy,
    )
    return with_secret(created)


@router.get("/webhook-endpoints", response_model=list[EndpointOut], summary="Webhook endpoints")
async def list_endpoints(box: Box, organizer: Organizer) -> list[EndpointOut]:
    return [endpoint_out(e) for e in await service.list_endpoints(box.db, organizer.id)]


@router.get("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut, summary="A webhook endpoint")
async def get_endpoint(endpoint_id: str, box: Box, organizer: Organizer) -> EndpointOut:
    return endpoint_out(await service.get_endpoint(box.db, endpoint_id, organizer.id))


@router.patch("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut, summary="Change a webhook endpoint")
async def patch_endpoint(endpoint_id: str, body: EndpointPatch, box: Box, organizer: Organizer) -> EndpointOut:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return endpoint_out(
        await service.update_endpoint(box.db, endpoint_id, organizer.id, changes, policy=box.webhook_policy)
    )


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, summary="Delete a webhook endpoint")
async def delete_endpoint(endpoint_id: str, box: Box, organizer: Organizer) -> Response:
    """Nothing more is sent to it; its delivery log goes with it."""
    await service.delete_endpoint(box.db, endpoint_id, organizer.id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/roll-secret",
    response_model=EndpointWithSecret,
    summary="Roll the signing secret",
)
async def roll_secret(
    endpoint_id: str, box: Box, organizer: Organizer, body: RollSecret | None = None
) -> EndpointWithSecret:
    """A new secret (shown this once). The current one keeps signing beside it for `previous_secret_hours` (24 by
    default): every delivery then carries two `v1` signatures, so receivers can switch without missing one."""
    hours = body.previous_secret_hours if body is not None else 24
    created = await service.roll_secret(box.db, endpoint_id, organizer.id, overlap=timedelta(hours=hours))
    return with_secret(created)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="The delivery log of an endpoint",
)
async def list_deliveries(
    endpoint_id: str,
    box: Box,
    organizer: Organizer,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeliveryOut]:
    """Newest first: each delivery's status, attempts, the last answer's status code or error and its time."""
    found = await log.list_deliveries(box.db, endpoint_id, organizer.id, status=status, limit=limit, offset=offset)
    return [DeliveryOut(**delivery_out(d)) for d in found]


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetailOut,
    summary="A delivery with its attempts",
)
async def get_delivery(endpoint_id: str, delivery_id: str, box: Box, organizer: Organizer) -> DeliveryDetailOut:
    detail = await log.get_delivery(box.db, endpoint_id, delivery_id, organizer.id)
    return DeliveryDetailOut(
        **delivery_out(detail.delivery),
        attempts_log=[attempt_out(a) for a in detail.attempts],
        event=detail.event,
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again",
)
async def redeliver(endpoint_id: str, delivery_id: str, box: Box, organizer: Organizer) -> DeliveryOut:
    """The same event (same id and body) is sent again at once, and retried as a new delivery would be; it keeps
    its place in its order's sequence. 409 while the endpoint is disabled."""
    delivery = await log.redeliver(box.db, endpoint_id, delivery_id, organizer.id, retry_for=box.webhook_retry_for)
    box.webhook_sender.kick()
    return DeliveryOut(**delivery_out(delivery))
