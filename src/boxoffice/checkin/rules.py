"""What a scan answers, as pure rules (no I/O): the results, which refusal wins, the list's ticket types and window,
the digests of the offline copy, and who may scan where.

A scan's refusals, in the order they are checked (the first that applies is the answer):

1. ``invalid``: not a code this server signed, a ticket that does not exist, or a ticket of another event;
2. ``replaced``: a genuine code of an older version (the ticket was handed to someone else and got a new code);
3. ``refunded`` / ``canceled`` / ``not_paid``: the order (or the ticket) no longer admits anyone;
4. ``not_on_list``: a ticket type this list does not take;
5. ``outside_window``: scanned before the list opens or after it closes;
6. ``already_checked_in``: the ticket is in already (decided by the database's unique index, not here).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from boxoffice.errors import ErrorCode
from boxoffice.ticketing.models import SOLD_STATUSES, OrderStatus


class Result(StrEnum):
    """A scan's answer: ``ok`` admits; every other value is a refusal (also the ``ErrorCode`` it is reported as)."""

    OK = "ok"
    ALREADY_CHECKED_IN = "already_checked_in"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    NOT_PAID = "not_paid"
    NOT_ON_LIST = "not_on_list"
    OUTSIDE_WINDOW = "outside_window"
    REPLACED = "replaced"
    INVALID = "invalid"

    @property
    def error_code(self) -> ErrorCode:
        return ErrorCode(self.value)


REFUSALS = tuple(result for result in Result if result is not Result.OK)


def ticket_refusal(ticket_status: str, order_status: str) -> Result | None:
    """Why a ticket of an order in ``order_status`` does not admit, or ``None``. A partial refund keeps the ticket."""
    if order_status == OrderStatus.REFUNDED:
        return Result.REFUNDED
    if order_status == OrderStatus.CANCELED or ticket_status != "valid":
        return Result.CANCELED
    if order_status not in SOLD_STATUSES:
        return Result.NOT_PAID
    return None


@dataclass(frozen=True)
class ListRules:
    """What a check-in list admits: ticket types (all, or the ``ticket_type_ids``) and an optional time window."""

    all_ticket_types: bool
    ticket_type_ids: frozenset[str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @classmethod
    def of(
        cls,
        all_ticket_types: bool,
        ticket_type_ids: Collection[str],
        starts_at: datetime | None,
        ends_at: datetime | None,
    ) -> ListRules:
        return cls(all_ticket_types, frozenset(ticket_type_ids), starts_at, ends_at)

    def admits_type(self, ticket_type_id: str) -> bool:
        return self.all_ticket_types or ticket_type_id in self.ticket_type_ids

    def open_at(self, moment: datetime) -> bool:
        """Within the window: from ``starts_at`` (included) to ``ends_at`` (excluded); an open end is no bound."""
        if self.starts_at is not None and moment < self.starts_at:
            return False
        return self.ends_at is None or moment < self.ends_at


def refusal(
    rules: ListRules,
    *,
    ticket_status: str,
    order_status: str,
    ticket_type_id: str,
    code_version: int | None,
    current_version: int,
    at: datetime,
) -> Result | None:
    """Why this (existing, same event) ticket is refused at this list at ``at``, or ``None``: the refusals 2 to 5 of
    the module's list, in that order. ``code_version`` is the scanned code's (``None``: checked in by hand)."""
    if code_version is not None and code_version != current_version:
        return Result.REPLACED
    refused = ticket_refusal(ticket_status, order_status)
    if refused is not None:
        return refused
    if not rules.admits_type(ticket_type_id):
        return Result.NOT_ON_LIST
    if not rules.open_at(at):
        return Result.OUTSIDE_WINDOW
    return None


def code_digest(code: str) -> str:
    """The hex SHA-256 of a ticket code, as the offline copy carries it (never the code): a scanner hashes what it
    reads and looks the digest up. A code is an HMAC, so its digest tells nothing that would forge one."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Scanner:
    """Who is scanning, as the door sees them; the one principal every check-in endpoint takes.

    ``organizer_id`` owns the events it may reach; ``event_id`` and ``list_id`` narrow it (``None``: every event of
    the organizer, every list of the event). An organizer's API key is a scanner of everything with every right; a
    paired door device scans one list and may not undo; so does a team member's scanner token (a device token the
    console mints for them); the console builds one from the member's role for its own pages (owners and managers
    undo and manage, door members scan)."""

    organizer_id: str
    event_id: str | None = None
    list_id: str | None = None
    device_id: str | None = None
    label: str = ""
    can_undo: bool = False
    can_manage: bool = False  # lists, devices, the check-in records: the organizer's business

    def reaches(self, *, organizer_id: str, event_id: str, list_id: str) -> bool:
        """Whether this scanner may work on ``list_id`` (of ``event_id``, owned by ``organizer_id``)."""
        if organizer_id != self.organizer_id:
            return False
        if self.event_id is not None and event_id != self.event_id:
            return False
        return self.list_id is None or list_id == self.list_id
