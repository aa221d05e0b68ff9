"""Domain errors shared by every context.

Contexts raise these; the HTTP layer maps them to RFC 9457 problem details. Each carries a stable ``code``
(the last part of the problem ``type``) and, for invalid input, the fields at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    # amounts the message quotes for people (as the buyer sees them, "EUR 20.00"), as integers in minor units for
    # programs: ``(("expected_cents", 2000),)``; the problem document gives them beside the message
    amounts: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, str | int]:
        return {"field": self.field, "message": self.message, **dict(self.amounts)}


class BoxofficeError(Exception):
    code = "error"
    title = "Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(BoxofficeError):
    """Input that breaks a rule; nothing was changed."""

    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, errors: list[FieldError] | FieldError, detail: str | None = None) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls(FieldError(field, message))


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


class SalesClosed(Conflict):
    code = "sales-closed"
    title = "Sales closed"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class InvalidTransition(Conflict):
    code = "invalid-state"
    title = "Invalid state"


class Unauthorized(BoxofficeError):
    code = "unauthorized"
    title = "Unauthorized"


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
