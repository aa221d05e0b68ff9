"""What a process keeps of the sales it served: the event, ticket type and voucher rows the one-statement
reservation (``reserve_pg``) read, reused for a few seconds instead of read again for every order. A kept row only
saves a read: the reservation's statement checks that the rows still have the revisions read (every organizer edit
raises them), so a kept copy never sells at an old price or in a closed sale."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable

from boxoffice.db import Database
from boxoffice.events.models import Event
from boxoffice.ticketing import vouchers as voucher_rules
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import Sale
from boxoffice.ticketing.voucher_models import Voucher

KEPT_SALE_SECONDS = 5.0


class KeptSales:
    """What a process keeps of the sales it served, per database and (event id, ticket type id): the event and
    ticket type rows as read, for ``seconds`` at most. The one-statement reservation uses them instead of reading
    them again, and its statement checks that the rows still have the revisions read (organizer edits raise them), so
    a kept copy can never sell at an old price or in a closed sale; it only saves a read."""

    def __init__(self, *, seconds: float = KEPT_SALE_SECONDS, max_entries: int = 1024) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._kept: weakref.WeakKeyDictionary[Database, dict[tuple[str, str], tuple[float, Event, TicketType]]] = (
            weakref.WeakKeyDictionary()
        )
        self._vouchers: weakref.WeakKeyDictionary[Database, dict[tuple[str, str], tuple[float, Voucher]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, db: Database, event_id: str, ticket_type_ids: Iterable[str]) -> Sale | None:
        """The kept rows of every requested ticket type, or None if one is missing or too old. The event is the most
        recently kept copy (the statement checks its revision)."""
        kept = self._kept.get(db, {})
        oldest = time.monotonic() - self.seconds
        entries = [kept.get((event_id, tt_id)) for tt_id in ticket_type_ids]
        if not all(entry is not None and entry[0] >= oldest for entry in entries):
            return None
        fresh = [entry for entry in entries if entry is not None]
        return max(fresh, key=lambda entry: entry[0])[1], {entry[2].id: entry[2] for entry in fresh}

    def keep(self, db: Database, sale: Sale) -> None:
        kept = self._kept.setdefault(db, {})
        event, found = sale
        if len(kept) + len(found) > self.max_entries:
            kept.clear()
        at = time.monotonic()
        for tt in found.values():
            kept[(event.id, tt.id)] = (at, event, tt)

    def get_voucher(self, db: Database, event_id: str, code: str) -> Voucher | None:
        """The kept voucher of this code (its uses as read then: the statement checks them and its revision)."""
        entry = self._vouchers.get(db, {}).get((event_id, voucher_rules.normalize_code(code)))
        if entry is None or entry[0] < time.monotonic() - self.seconds:
            return None
        return entry[1]

    def keep_voucher(self, db: Database, voucher: Voucher) -> None:
        kept = self._vouchers.setdefault(db, {})
        if len(kept) >= self.max_entries:
            kept.clear()
        kept[(voucher.event_id, voucher.code_normalized)] = (time.monotonic(), voucher)


# This process's kept sales.
KEPT_SALES = KeptSales()
