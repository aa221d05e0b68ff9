"""Domain errors shared by every context.

Contexts raise these; the HTTP layer maps them to RFC 9457 problem details. Each carries a stable ``code``
(the last part of the problem ``type``) and, for invalid input, the fields at fault, each with its own stable
``ErrorCode`` (what kind of rule the field broke): clients and pages map codes to words, never message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """What kind of rule a field broke: one code per kind of rule, not per message. A closed set, documented in the
    OpenAPI schema (``errors[].code``); the buyer pages have words for every member. Amounts the rule quotes are
    given beside the code (``minimum_cents``, ``maximum``, ...)."""

    REQUIRED = "required"  # missing or empty
    TOO_LONG = "too_long"  # more characters than allowed
    TOO_SHORT = "too_short"  # fewer characters than allowed
    INVALID_TYPE = "invalid_type"  # not the JSON type the field takes (text, true/false, a list, an object)
    NOT_INTEGER = "not_integer"  # a number or amount that is not a whole number
    INVALID_FORMAT = "invalid_format"  # text that does not parse (an email address, a date-time, a time zone, ...)
    NO_TIMEZONE = "no_timezone"  # a date-time without a UTC offset (and no time zone to read it in)
    NONEXISTENT_TIME = "nonexistent_time"  # a wall-clock time the clocks skip in its time zone (DST starts)
    AMBIGUOUS_TIME = "ambiguous_time"  # a wall-clock time that happens twice in its time zone (DST ends)
    INVALID_CHOICE = "invalid_choice"  # not one of the values the field allows
    BELOW_MINIMUM = "below_minimum"  # under the least value allowed (``minimum``/``minimum_cents`` beside it)
    ABOVE_MAXIMUM = "above_maximum"  # over the most value allowed (``maximum``/``maximum_cents``/``remaining_cents``)
    OVER_LIMIT = "over_limit"  # more than one order may take (lines, tickets per line or type; ``maximum``)
    UNKNOWN_FIELD = "unknown_field"  # a field or key the request may not carry
    CONFLICT_WITH = "conflict_with"  # disagrees with another value (another field, a fixed price: ``expected_cents``)
    NOT_APPLICABLE = "not_applicable"  # a field this kind of thing does not take (price tiers of a fixed ticket)
    NOT_ORDERED = "not_ordered"  # out of order (an end before its start, tiers that do not increase)
    TIER_BOUNDS = "tier_bounds"  # a price tier bounded where it must be open-ended, or the reverse
    MIXED_CURRENCY = "mixed_currency"  # tickets of one order in several currencies
    NOT_TIPPABLE = "not_tippable"  # a tip on tickets that take none
    NOT_FOUND = "not_found"  # names something that does not exist (here)
    NOT_ON_SALE = "not_on_sale"  # the event is not on sale (canceled)
    SALES_PAUSED = "sales_paused"  # the organizer paused the event's sales for now
    NOT_STARTED = "not_started"  # the ticket's sales have not started yet
    SALES_ENDED = "sales_ended"  # the ticket's sales have ended
    SOLD_OUT = "sold_out"  # fewer tickets left than asked (``available`` beside it)
    KEY_REUSED = "key_reused"  # an Idempotency-Key already used with another request
    INVALID_JSON = "invalid_json"  # the body is not JSON
    HTTPS_REQUIRED = "https_required"  # a URL that must be https:// (a webhook endpoint in production)
    FORBIDDEN_ADDRESS = "forbidden_address"  # a URL to an address nothing is sent to (private, loopback, ...)
    # a scan at the door refused (``checkin``): the ticket's code is genuine, its state says no
    ALREADY_CHECKED_IN = "already_checked_in"  # the ticket is in already (the first check-in's time and device)
    CANCELED = "canceled"  # the ticket or its order was canceled
    REFUNDED = "refunded"  # the ticket's order was refunded
    NOT_PAID = "not_paid"  # the ticket's order is not paid (not confirmed)
    NOT_ON_LIST = "not_on_list"  # a ticket type the check-in list does not admit
    OUTSIDE_WINDOW = "outside_window"  # scanned outside the check-in list's time window
    REPLACED = "replaced"  # a genuine code of a ticket that has a newer code since (it was handed to someone else)
    INVALID = "invalid"  # any other refusal of the request's validation
    # vouchers and access codes (the ``voucher`` field of an order, a ticket listing's ``?voucher=``)
    VOUCHER_UNKNOWN = "voucher_unknown"  # no such code for this event (422)
    VOUCHER_EXPIRED = "voucher_expired"  # the code's validity has ended (409)
    VOUCHER_NOT_YET_VALID = "voucher_not_yet_valid"  # the code's validity has not begun (409)
    VOUCHER_USED_UP = "voucher_used_up"  # fewer uses left than tickets asked (409; ``remaining`` beside it)
    VOUCHER_NOT_APPLICABLE = "voucher_not_applicable"  # the code applies to none of the order's tickets (422)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    # amounts the message quotes for people (as the buyer sees them, "EUR 20.00"), as integers in minor units for
    # programs: ``(("expected_cents", 2000),)``; the problem document gives them beside the message
    amounts: tuple[tuple[str, int], ...] = ()
    code: ErrorCode = dataclass_field(kw_only=True)  # required: every field error says which kind of rule

    def amount(self, name: str) -> int | None:
        return dict(self.amounts).get(name)

    def as_dict(self) -> dict[str, str | int]:
        return {"field": self.field, "code": self.code.value, "message": self.message, **dict(self.amounts)}


class BoxofficeError(Exception):
    code = "error"
    title = "Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def field_errors(self) -> list[FieldError]:
        """The fields at fault, each with its code (none for errors about no field)."""
        return []


class InvalidInput(BoxofficeError):
    """Input that breaks a rule; nothing was changed."""

    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, errors: list[FieldError] | FieldError, detail: str | None = None) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in self.errors))

    def field_errors(self) -> list[FieldError]:
        return list(self.errors)

    @classmethod
    def one(
        cls,
        field: str,
        message: str,
        amounts: tuple[tuple[str, int], ...] = (),
        *,
        code: ErrorCode,
    ) -> InvalidInput:
        return cls(FieldError(field, message, amounts, code=code))


class NotFound(BoxofficeError):
    code = "not-found"
    title = "Not found"


class Conflict(BoxofficeError):
    """The request is valid but the current state does not allow it."""

    code = "conflict"
    title = "Conflict"


class RetryLater(Conflict):
    """The same request is being processed right now: retry after ``retry_after`` seconds."""

    code = "in-progress"
    title = "In progress"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class SoldOut(Conflict):
    code = "sold-out"
    title = "Sold out"

    def __init__(self, detail: str, *, ticket_type_id: str, available: int, field: str | None = None) -> None:
        super().__init__(detail, ticket_type_id=ticket_type_id, available=available)
        self.ticket_type_id = ticket_type_id
        self.available = available
        self.field = field

    def field_errors(self) -> list[FieldError]:
        if not self.field:
            return []
        return [FieldError(self.field, self.detail, (("available", self.available),), code=ErrorCode.SOLD_OUT)]


class SalesClosed(Conflict):
    code = "sales-closed"
    title = "Sales closed"

    def __init__(self, detail: str, *, field: str | None = None, reason: ErrorCode = ErrorCode.NOT_ON_SALE) -> None:
        super().__init__(detail)
        self.field = field
        self.reason = reason  # not_on_sale (the event), not_started or sales_ended (a ticket type)

    def field_errors(self) -> list[FieldError]:
        return [FieldError(self.field, self.detail, code=self.reason)] if self.field else []


class ChangesClosed(Conflict):
    """Self-service changes of an order's attendees and answers ended (``closed_at``: the organizer's cut-off or the
    event's start)."""

    code = "changes-closed"
    title = "Changes closed"

    def __init__(self, detail: str, *, closed_at: str) -> None:
        super().__init__(detail, closed_at=closed_at)
        self.closed_at = closed_at


class SalesPaused(SalesClosed):
    """The organizer paused the event's sales: its page stays visible, nothing can be reserved until they resume."""

    code = "sales-paused"
    title = "Sales paused"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail, field=field, reason=ErrorCode.SALES_PAUSED)


class VoucherUnavailable(Conflict):
    """A voucher that exists but cannot be used now: ``reason`` is ``voucher_expired``, ``voucher_not_yet_valid``
    or ``voucher_used_up`` (with ``remaining``, the uses left)."""

    code = "voucher-unavailable"
    title = "Voucher unavailable"

    def __init__(self, detail: str, *, reason: ErrorCode, remaining: int | None = None, field: str = "voucher") -> None:
        super().__init__(detail)
        self.reason = reason
        self.remaining = remaining
        self.field = field

    def field_errors(self) -> list[FieldError]:
        amounts = (("remaining", self.remaining),) if self.remaining is not None else ()
        return [FieldError(self.field, self.detail, amounts, code=self.reason)]


class InvalidTransition(Conflict):
    code = "invalid-state"
    title = "Invalid state"


class Unauthorized(BoxofficeError):
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(BoxofficeError):
    """Known credentials that do not allow this (a door device undoing a check-in)."""

    code = "forbidden"
    title = "Forbidden"


class ServiceUnavailable(BoxofficeError):
    code = "unavailable"
    title = "Service unavailable"


class TooManyRequests(BoxofficeError):
    """A limit against hoarding said no: ``limit`` names which one (``rate``, ``held-per-email``,
    ``held-per-address``, ``free-orders-per-email``); ``retry_after`` is in whole seconds."""

    code = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, limit: str, retry_after: int) -> None:
        super().__init__(detail, limit=limit, retry_after=retry_after)
        self.limit = limit
        self.retry_after = max(int(retry_after), 1)
