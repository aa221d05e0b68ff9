"""Request and response bodies of the check-in API (``web/api/checkin.py``), with the rules the OpenAPI schema states
and the server enforces (the single fields' rules come from ``web/api/fields.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from boxoffice.checkin.rules import Result
from boxoffice.web.api.described import about
from boxoffice.web.api.fields import NAME_PATTERN, TEXT_PATTERN, DateTime, Matches, NoNul, Title
from boxoffice.web.api.schemas import Problem, Strict, _not_null

Id = Annotated[str, Field(min_length=1, max_length=64), NoNul]
TICKET_TYPE_IDS = (
    "The ticket types the list admits, each one of the event's; null (or left out when creating): every ticket type "
    "of the event, those added later included."
)
TICKET_TYPES_EXAMPLE = ["tt_41c7e2f09a6b3d58e210", "tt_9b2e5c1d7a4f3086e1c2"]
TicketTypeIds = Annotated[list[Id], Field(min_length=1, max_length=200)]
TICKET_EXAMPLE = {
    "id": "tkt_d8e4bf4314185e99baa1",
    "ticket_type_id": "tt_41c7e2f09a6b3d58e210",
    "ticket_type": "General admission",
    "holder_name": "Ada Lovelace",
    "order_id": "ord_5f0c2a9e7b31d4c86a0f",
}
LIST_EXAMPLE = {
    "id": "cl_0a1b2c3d4e5f60718293",
    "event_id": "ev_b9aea6add483ac60e4eb",
    "name": "Main entrance",
    "all_ticket_types": True,
    "ticket_type_ids": [],
    "starts_at": None,
    "ends_at": None,
    "is_default": True,
    "created_at": "2027-03-01T10:00:00Z",
}
_LIST_RULES = (
    "Rules answered with 422 and not in the schema: `ends_at` after `starts_at` (the stored value of one not sent "
    "counts); every id of `ticket_type_ids` one of the event's ticket types."
)


class CheckinListCreate(Strict):
    __doc__ = "A check-in list. " + _LIST_RULES

    name: Title = about("The list's name, as door staff see it.", "Main entrance")
    ticket_type_ids: TicketTypeIds | None = about(TICKET_TYPE_IDS, TICKET_TYPES_EXAMPLE, default=None)
    starts_at: DateTime | None = about(
        "The list admits from then on (unset: any time).", "2027-06-12T17:00:00Z", default=None
    )
    ends_at: DateTime | None = about(
        "The list admits until then (unset: any time).", "2027-06-12T23:00:00Z", default=None
    )


class CheckinListPatch(Strict):
    __doc__ = "The fields to change; null for `ticket_type_ids`, `starts_at` or `ends_at` removes that limit. " + (
        _LIST_RULES
    )
    NOT_NULL = ("name",)

    name: Title | None = about("The list's name, as door staff see it.", "Main entrance", default=None)
    ticket_type_ids: TicketTypeIds | None = about(TICKET_TYPE_IDS, TICKET_TYPES_EXAMPLE, default=None)
    starts_at: DateTime | None = about("From when it admits (null: any time).", "2027-06-12T17:00:00Z", default=None)
    ends_at: DateTime | None = about("Until when it admits (null: any time).", "2027-06-12T23:00:00Z", default=None)

    _not_null = field_validator("name", mode="before")(_not_null)


class CheckinListOut(BaseModel):
    id: str = about("Its id.", "cl_0a1b2c3d4e5f60718293")
    event_id: str = about("The event.", "ev_b9aea6add483ac60e4eb")
    name: str = about("The list's name, as door staff see it.", "Main entrance")
    all_ticket_types: bool = about("True: the list admits every ticket type of the event.", True)
    ticket_type_ids: list[str] = about(
        "The ticket types admitted when not all_ticket_types (empty when it is).", TICKET_TYPES_EXAMPLE
    )
    starts_at: datetime | None = about("From when it admits (null: any time).", "2027-06-12T17:00:00Z")
    ends_at: datetime | None = about("Until when it admits (null: any time).", "2027-06-12T23:00:00Z")
    is_default: bool = about("True: the list the event was created with.", True)
    created_at: datetime = about("When it was created (UTC).", "2027-03-01T10:00:00Z")


class ScanIn(Strict):
    """A scan: either the `code` the scanner read or, for a check-in by hand after a search, the `ticket_id` (one of
    the two, never both). `nonce`: the scanner's own id for this scan; sending it again answers what the first scan
    answered and writes nothing. `scanned_at`: set when uploading a scan made offline (the device admitted the
    person then); at most 5 minutes ahead of the server's clock (a rule against the server's clock, answered with
    422)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["code"]}, {"required": ["ticket_id"]}]}
    )
    NOT_NULL = ("code", "ticket_id", "nonce", "scanned_at")

    code: Annotated[str, Field(min_length=1, max_length=200), NoNul] | None = about(
        "The ticket code the scanner read (the text of the ticket's QR code).",
        "tkt_d8e4bf4314185e99baa1.WP6GGKTKWA55DEPVIYEY2T7WM353WATO",
        default=None,
    )
    ticket_id: Id | None = about("The ticket.", "tkt_d8e4bf4314185e99baa1", default=None)
    nonce: Annotated[str, Field(min_length=1, max_length=100), NoNul] | None = about(
        "The scanner's own id for this scan (a UUID): the same nonce again answers what the first scan answered.",
        "6f1c2b9e-3d4a-4c8e-9b1f-2a7d5e0c4b13",
        default=None,
    )
    scanned_at: DateTime | None = about(
        "When the device scanned it (offline uploads; at most 5 minutes ahead of the server's clock).",
        "2027-06-12T18:45:10Z",
        default=None,
    )
    device: Annotated[str, Field(max_length=100), Matches(NAME_PATTERN, "must not contain control characters")] = about(
        "A label for the scanner (a paired device's own label wins).", "North gate phone 2", default=""
    )

    _not_null = field_validator("code", "ticket_id", "nonce", "scanned_at", mode="before")(_not_null)


class ScanTicket(BaseModel):
    id: str = about("Its id.", "tkt_d8e4bf4314185e99baa1")
    ticket_type_id: str = about("The ticket's type.", "tt_41c7e2f09a6b3d58e210")
    ticket_type: str = about("The ticket type's title.", "General admission")
    holder_name: str = about("Who holds the ticket (its attendee, else the buyer).", "Ada Lovelace")
    order_id: str = about("The ticket's order.", "ord_5f0c2a9e7b31d4c86a0f")


class CheckinEntry(BaseModel):
    id: str = about("Its id.", "ci_2c4e6a8b0d1f3e5a7c9b")
    checked_in_at: datetime = about("When the ticket was admitted (UTC).", "2027-06-12T18:45:11Z")
    device: str = about("The device that scanned it.", "North gate phone 2")


class ScanOk(BaseModel):
    result: Literal["ok"] = about("What the scan answered.", "ok", default="ok")
    checkin_id: str = about("The check-in record.", "ci_2c4e6a8b0d1f3e5a7c9b")
    ticket: ScanTicket = about("The ticket admitted.", TICKET_EXAMPLE)
    checked_in_at: datetime = about("When the ticket was admitted (UTC).", "2027-06-12T18:45:11Z")
    device: str = about("The device that scanned it.", "North gate phone 2")
    replayed: bool = about("True: the answer to an earlier scan with this nonce (nothing was written).", False)


class ScanRefused(Problem):
    """A refused scan (409): `result` says why (also `errors[0].code`, on the field `code` or `ticket_id`)."""

    result: Literal[
        "already_checked_in", "canceled", "refunded", "not_paid", "not_on_list", "outside_window", "replaced"
    ] = about(
        "Why the ticket is refused: in already; its order or ticket canceled, refunded or not paid; a ticket type "
        "this list does not take; outside the list's time window; an older code of a ticket handed on.",
        "already_checked_in",
    )
    ticket: ScanTicket = about("The ticket scanned.", TICKET_EXAMPLE)
    first_checkin: CheckinEntry | None = about(
        "already_checked_in: the admission that came first.",
        {"id": "ci_2c4e6a8b0d1f3e5a7c9b", "checked_in_at": "2027-06-12T18:45:11Z", "device": "North gate phone 2"},
        default=None,
    )
    duplicate: bool = about(
        "True: this upload of an offline scan was recorded as a flagged duplicate entry (checkin_id).",
        False,
        default=False,
    )
    checkin_id: str | None = about(
        "The duplicate entry's record, when one was recorded.", "ci_7e9a1c3b5d2f4e6a8c0b", default=None
    )
    replayed: bool = about(
        "True: the answer to an earlier scan with this nonce (nothing was written).", False, default=False
    )


class ScanInvalid(Problem):
    """422: with `result: invalid`, not a ticket of this list's event (malformed, forged, altered, unknown, or of
    another event); without it, a request that breaks the schema (errors[] names the fields)."""

    result: Literal["invalid"] | None = about("What the scan answered: `invalid`.", "invalid", default=None)


class UndoneOut(BaseModel):
    id: str = about("Its id.", "ci_2c4e6a8b0d1f3e5a7c9b")
    list_id: str = about("The check-in list.", "cl_0a1b2c3d4e5f60718293")
    ticket_id: str = about("The ticket.", "tkt_d8e4bf4314185e99baa1")
    undone_at: datetime = about("When the check-in was undone (UTC).", "2027-06-12T18:50:00Z")


class TypeCountOut(BaseModel):
    id: str = about("Its id.", "tt_41c7e2f09a6b3d58e210")
    title: str = about("Its title.", "General admission")
    checked_in: int = about("Tickets admitted.", 120)
    duplicates: int = about("Second admissions of a ticket made offline, counted apart.", 1)
    total: int = about("Tickets that admit at this list (valid tickets of paid orders).", 300)


class StatusOut(BaseModel):
    list_id: str = about("The check-in list.", "cl_0a1b2c3d4e5f60718293")
    checked_in: int = about("Tickets admitted.", 120)
    duplicates: int = about("Second admissions made offline, counted apart.", 1)
    total: int = about("Tickets that admit at this list.", 500)
    ticket_types: list[TypeCountOut] = about("Per ticket type.", [])


class AttendeeOut(BaseModel):
    ticket_id: str = about("The ticket.", "tkt_d8e4bf4314185e99baa1")
    ticket_type_id: str = about("The ticket's type.", "tt_41c7e2f09a6b3d58e210")
    ticket_type: str = about("The ticket type's title.", "General admission")
    holder_name: str = about("Who holds the ticket (its attendee, else the buyer).", "Ada Lovelace")
    email: str = about("The buyer's email address.", "ada@example.com")
    order_id: str = about("The ticket's order.", "ord_5f0c2a9e7b31d4c86a0f")
    result: Result = about("What a scan of this ticket would answer now (ok, or the refusal).", "ok")
    checked_in_at: datetime | None = about("When the ticket was admitted (UTC).", "2027-06-12T18:45:11Z")


class CheckinOut(BaseModel):
    id: str = about("Its id.", "ci_2c4e6a8b0d1f3e5a7c9b")
    ticket_id: str = about("The ticket.", "tkt_d8e4bf4314185e99baa1")
    ticket_type_id: str = about("The ticket's type.", "tt_41c7e2f09a6b3d58e210")
    ticket_type: str = about("The ticket type's title.", "General admission")
    holder_name: str = about("Who holds the ticket (its attendee, else the buyer).", "Ada Lovelace")
    order_id: str = about("The ticket's order.", "ord_5f0c2a9e7b31d4c86a0f")
    scanned_at: datetime = about(
        "When the device scanned it (offline uploads; at most 5 minutes ahead of the server's clock).",
        "2027-06-12T18:45:10Z",
    )
    received_at: datetime = about("When the server received the scan (UTC).", "2027-06-12T18:45:12Z")
    device: str = about("The device that scanned it.", "North gate phone 2")
    manual: bool = about("True: checked in from a search rather than from the ticket's code.", False)
    duplicate: bool = about("True: a second admission made by a device while offline, flagged.", False)
    undone_at: datetime | None = about("When the check-in was undone (UTC).", None)


class OfflineEvent(BaseModel):
    id: str = about("Its id.", "ev_b9aea6add483ac60e4eb")
    title: str = about("The event's title.", "Jazz on the Roof")
    starts_at: datetime = about("When the event starts (UTC).", "2027-06-12T17:00:00Z")
    ends_at: datetime = about("When the event ends (UTC).", "2027-06-12T23:00:00Z")
    timezone: str = about("The event's IANA time zone.", "Europe/Berlin")


class OfflineDevice(BaseModel):
    id: str = about("Its id.", "dev_0a1b2c3d4e5f60718293")
    label: str = about("The device's name, as the console shows it.", "North gate phone 2")


class OfflineType(BaseModel):
    id: str = about("Its id.", "tt_41c7e2f09a6b3d58e210")
    title: str = about("Its title.", "General admission")


class OfflineTicketOut(BaseModel):
    id: str = about("Its id.", "tkt_d8e4bf4314185e99baa1")
    ticket_type_id: str = about("The ticket's type.", "tt_41c7e2f09a6b3d58e210")
    digest: str = about(
        "SHA-256 (hex) of the ticket's current code: hash what you scan, look it up.",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    )
    state: Result = about("ok, or why a scan is refused whatever the time (canceled, refunded, ...).", "ok")
    holder_name: str = about("Who holds the ticket (its attendee, else the buyer).", "Ada Lovelace")
    order_id: str = about("The ticket's order.", "ord_5f0c2a9e7b31d4c86a0f")
    checked_in_at: datetime | None = about("When the ticket was admitted (UTC).", "2027-06-12T18:45:11Z")


class OfflineOut(BaseModel):
    version: str = about("Changes whenever the copy does; also the ETag (send If-None-Match).", "3f9a1c0b7d2e5a4c8b6d")
    checkin_list: CheckinListOut = about("The list.", LIST_EXAMPLE, alias="list")
    event: OfflineEvent = about(
        "The list's event.",
        {
            "id": "ev_b9aea6add483ac60e4eb",
            "title": "Jazz on the Roof",
            "starts_at": "2027-06-12T17:00:00Z",
            "ends_at": "2027-06-12T23:00:00Z",
            "timezone": "Europe/Berlin",
        },
    )
    device: OfflineDevice | None = about(
        "The paired device asking (null: an organizer's key).",
        {"id": "dev_0a1b2c3d4e5f60718293", "label": "North gate phone 2"},
    )
    ticket_types: list[OfflineType] = about("Per ticket type.", [])
    tickets: list[OfflineTicketOut] = about("The tickets of the list.", [])


class DeviceCreate(Strict):
    """A door device. `checkin_list_id` must be a list of this event (a rule against stored state, answered with
    422); left out: the event's default list."""

    label: Annotated[str, Field(min_length=1, max_length=100), Matches(TEXT_PATTERN, "must not be blank")] = about(
        "The device's name, as the console shows it and its check-ins record it.", "North gate phone 2"
    )
    checkin_list_id: Id | None = about(
        "The list the device scans for (left out: the event's default list).", "cl_0a1b2c3d4e5f60718293", default=None
    )


class DeviceOut(BaseModel):
    id: str = about("Its id.", "dev_0a1b2c3d4e5f60718293")
    event_id: str = about("The event.", "ev_b9aea6add483ac60e4eb")
    checkin_list_id: str = about(
        "The list the device scans for (left out: the event's default list).", "cl_0a1b2c3d4e5f60718293"
    )
    label: str = about("The device's name, as the console shows it.", "North gate phone 2")
    prefix: str = about("The token's first characters, to tell devices apart.", "bodev_Xk3q9Z")
    created_at: datetime = about("When it was created (UTC).", "2027-03-01T10:00:00Z")
    last_used_at: datetime | None = about("When the device was last used (UTC).", "2027-06-12T18:45:12Z")
    revoked_at: datetime | None = about("When it was revoked (UTC), or null.", None)
    expires_at: datetime | None = about(
        "When a team member's scanner (opened from the console, labelled with their email) stops working (UTC): at "
        "most 16 hours after it was opened, and never after the console session that opened it. Null for a paired "
        "device, which works until it is revoked.",
        None,
    )


class DeviceCreated(DeviceOut):
    token: str = about(
        "The device's token, shown once: the pairing URL carries it.", "bodev_Xk3q9Z0aV7mP2rT5wY8bC1dF4gH6jK9nQ3sU"
    )
    pairing_url: str = about(
        "Open it on the phone (or scan pairing_qr_svg) to pair it.",
        "https://tickets.example.com/door/#list=cl_0a1b2c3d4e5f60718293&token=bodev_Xk3q9Z0aV7mP2rT5wY8bC1dF4gH6jK9nQ3sU",
    )
    pairing_qr_svg: str = about(
        "An SVG QR code of pairing_url, for a screen to show.",
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 45 45">...</svg>',
    )
