"""Voucher rules: when a code can be used, which tickets it applies to, and what a ticket costs with it. Pure: no
I/O, no clock (``now`` is an argument), beside ``pricing.py``.

A voucher belongs to one event. Its code is unique in the event whatever its case (``normalize_code``). It applies
to the hidden types it unlocks (``unlocks``: they become visible and buyable with the code) and to the ticket types
it names (``ticket_type_ids``); naming none means every ticket type of the event that is not hidden, unless it
unlocks some: an access code applies to what it unlocks only. Its uses are tickets,
counted across orders (``max_uses``; None: no limit); ``max_per_order`` bounds the tickets one order takes with it;
it works from ``valid_from`` (inclusive) until ``valid_until`` (exclusive).

What a ticket costs with a voucher (``unit_price``), per pricing model:

* ``fixed``: ``percent`` takes that share off the price, rounded down to the minor unit (the buyer never pays a
  fraction of a cent more than the percentage says, and never less than a whole cent's worth); ``amount`` takes
  that amount off each ticket, down to zero at most; ``price`` sets each ticket's price, never above the ticket's
  own price.
* ``flexible`` (pay what you want): the buyer's chosen price is the undiscounted price, and the chosen price must
  still reach the ticket's minimum. ``percent`` and ``amount`` reduce it, but never below the ticket's minimum: a
  minimum is bypassed only by a voucher that says so explicitly, a ``price`` voucher, which sets the price (a
  comp is ``{"price_cents": 0}``), never above the chosen price.
* ``dynamic`` (tiers): every unit keeps its tier price by position, and the voucher applies to each unit's price as
  for ``fixed`` (a tier's price has no minimum of its own).

Whatever the voucher, a ticket never costs less than zero nor more than it costs without the voucher, and every
amount is a whole number of the currency's minor units.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from boxoffice import money
from boxoffice.errors import ErrorCode, FieldError, InvalidInput, VoucherUnavailable
from boxoffice.ticketing.pricing import TicketPricing

DiscountKind = Literal["percent", "amount", "price"]
# The request's names for the three kinds, as the API takes them: {"percent": 20}, {"amount_cents": 500},
# {"price_cents": 0}.
DISCOUNT_FIELDS: dict[str, DiscountKind] = {"percent": "percent", "amount_cents": "amount", "price_cents": "price"}
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"
PREFIX_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$"
_CODE = re.compile(CODE_PATTERN.replace("$", r"\Z"))
_PREFIX = re.compile(PREFIX_PATTERN.replace("$", r"\Z"))
# Generated codes: a prefix and characters that cannot be mistaken for one another when read aloud or typed.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 10
MAX_GENERATED = 1000


@dataclass(frozen=True)
class Discount:
    kind: DiscountKind
    value: int  # percent: 1 to 100; amount: minor units >= 1; price: minor units >= 0

    def as_json(self) -> dict[str, int]:
        name = next(k for k, v in DISCOUNT_FIELDS.items() if v == self.kind)
        return {name: self.value}

    def describe(self, currency: str) -> str:
        """``20% off``, ``$5.00 off each ticket``, ``$10.00 a ticket`` (``Free`` for a price of zero)."""
        if self.kind == "percent":
            return f"{self.value}% off"
        if self.kind == "amount":
            return f"{money.format_money(self.value, currency)} off each ticket"
        return "free" if self.value == 0 else f"{money.format_money(self.value, currency)} a ticket"


@dataclass(frozen=True)
class VoucherTerms:
    """What the rules need of a voucher (a stored voucher row, or anything with its attributes)."""

    code: str
    discount: Discount | None = None
    ticket_type_ids: frozenset[str] | None = None
    unlocks: frozenset[str] = frozenset()
    max_uses: int | None = None
    uses: int = 0
    max_per_order: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.max_uses is None else max(self.max_uses - self.uses, 0)


def normalize_code(code: str) -> str:
    """The form codes are compared in: trimmed, upper case (codes are ASCII letters, digits, ``-`` and ``_``)."""
    return code.strip().upper()


def is_code(code: object) -> bool:
    return isinstance(code, str) and bool(_CODE.search(code.strip()))


def discount_from_json(raw: Mapping[str, Any] | None) -> Discount | None:
    """The stored ``{"percent": 20}`` (or ``amount_cents``, ``price_cents``) as a ``Discount``; None: no discount."""
    if not raw:
        return None
    ((name, value),) = raw.items()
    return Discount(DISCOUNT_FIELDS[name], int(value))


def terms_from_row(row: Any) -> VoucherTerms:
    """The ``VoucherTerms`` of a stored voucher (anything with the voucher's attributes)."""
    ids = row.ticket_type_ids
    return VoucherTerms(
        code=row.code,
        discount=discount_from_json(row.discount),
        ticket_type_ids=None if ids is None else frozenset(ids),
        unlocks=frozenset(row.unlocks or ()),
        max_uses=row.max_uses,
        uses=row.uses_taken,
        max_per_order=row.max_per_order,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


# -- when and where a voucher can be used -------------------------------------------------------------------------


def check_window(terms: VoucherTerms, now: datetime, field: str = "voucher") -> None:
    """Raise ``VoucherUnavailable`` outside the voucher's validity (``valid_from`` <= now < ``valid_until``)."""
    if terms.valid_from is not None and now < terms.valid_from:
        raise VoucherUnavailable("this code is not valid yet", reason=ErrorCode.VOUCHER_NOT_YET_VALID, field=field)
    if terms.valid_until is not None and now >= terms.valid_until:
        raise VoucherUnavailable("this code has expired", reason=ErrorCode.VOUCHER_EXPIRED, field=field)


def applies_to(terms: VoucherTerms, ticket_type_id: str, *, hidden: bool) -> bool:
    """Whether the voucher applies to a ticket type: one it unlocks, or one it names (when it names none and unlocks
    none, every visible one). A hidden type is bought only with a voucher that unlocks it."""
    if ticket_type_id in terms.unlocks:
        return True
    if hidden:
        return False
    if terms.ticket_type_ids is None:
        return not terms.unlocks
    return ticket_type_id in terms.ticket_type_ids


def check_use(terms: VoucherTerms, applicable: int, now: datetime, field: str = "voucher") -> None:
    """Whether an order may take ``applicable`` tickets with the voucher (the tickets of the order it applies to):
    its validity, that it applies to something, its per-order limit and the uses it has left (as last read: the
    reservation takes the uses with a conditional update, which decides)."""
    check_window(terms, now, field)
    if applicable <= 0:
        raise InvalidInput.one(
            field, "this code does not apply to any ticket in the order", code=ErrorCode.VOUCHER_NOT_APPLICABLE
        )
    if terms.max_per_order is not None and applicable > terms.max_per_order:
        raise InvalidInput.one(
            field,
            f"this code applies to at most {terms.max_per_order} tickets per order",
            (("maximum", terms.max_per_order),),
            code=ErrorCode.OVER_LIMIT,
        )
    remaining = terms.remaining
    if remaining is not None and applicable > remaining:
        raise used_up(remaining, field)


def used_up(remaining: int, field: str = "voucher") -> VoucherUnavailable:
    detail = f"this code can be used for {remaining} more tickets only" if remaining else "this code is used up"
    return VoucherUnavailable(detail, reason=ErrorCode.VOUCHER_USED_UP, remaining=remaining, field=field)


def unknown(field: str = "voucher") -> InvalidInput:
    return InvalidInput.one(field, "no such code for this event", code=ErrorCode.VOUCHER_UNKNOWN)


# -- prices ---------------------------------------------------------------------------------------------------------


def unit_price(pricing: TicketPricing, undiscounted: int, discount: Discount | None) -> int:
    """The price of one unit that costs ``undiscounted`` without the voucher (for a flexible ticket: the buyer's
    chosen price), with the voucher's ``discount`` (see the module's docstring)."""
    if discount is None:
        return undiscounted
    if discount.kind == "price":
        return min(discount.value, undiscounted)
    if discount.kind == "percent":
        price = undiscounted - undiscounted * discount.value // 100
    else:
        price = max(undiscounted - discount.value, 0)
    if pricing.model == "flexible":
        minimum = pricing.minimum_price_cents or 0
        price = min(max(price, minimum), undiscounted)
    return price


def unit_prices(pricing: TicketPricing, undiscounted: Iterable[int], discount: Discount | None) -> tuple[int, ...]:
    return tuple(unit_price(pricing, price, discount) for price in undiscounted)


# -- organizer input ------------------------------------------------------------------------------------------------

VOUCHER_FIELDS = frozenset(
    {
        "code",
        "count",
        "prefix",
        "discount",
        "ticket_ids",
        "unlocks",
        "max_uses",
        "max_per_order",
        "valid_from",
        "valid_until",
        "reserve",
        "note",
    }
)
MAX_RESERVE = 100_000


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_discount(raw: object, errors: list[FieldError], field: str = "discount") -> Discount | None:
    """``{"percent": 20}``, ``{"amount_cents": 500}`` or ``{"price_cents": 0}`` (exactly one); None: no discount."""
    if raw is None:
        return None
    if isinstance(raw, Discount):
        return raw
    if not isinstance(raw, Mapping) or len(raw) != 1 or next(iter(raw)) not in DISCOUNT_FIELDS:
        errors.append(
            FieldError(field, "must be one of {percent}, {amount_cents} or {price_cents}", code=ErrorCode.INVALID_TYPE)
        )
        return None
    ((name, value),) = raw.items()
    at = f"{field}.{name}"
    kind = DISCOUNT_FIELDS[name]
    low, high = {"percent": (1, 100), "amount": (1, money.MAXIMUM_AMOUNT), "price": (0, money.MAXIMUM_AMOUNT)}[kind]
    if not _int(value):
        errors.append(FieldError(at, "must be an integer", code=ErrorCode.NOT_INTEGER))
        return None
    if value < low:
        errors.append(FieldError(at, f"must be at least {low}", (("minimum", low),), code=ErrorCode.BELOW_MINIMUM))
        return None
    if value > high:
        errors.append(FieldError(at, f"must be at most {high}", (("maximum", high),), code=ErrorCode.ABOVE_MAXIMUM))
        return None
    return Discount(kind, value)


def _positive(value: object, name: str, errors: list[FieldError], *, minimum: int = 1) -> None:
    if value is None:
        return
    if not _int(value):
        errors.append(FieldError(name, f"must be an integer >= {minimum}", code=ErrorCode.NOT_INTEGER))
    elif value < minimum:  # type: ignore[operator]
        errors.append(
            FieldError(name, f"must be an integer >= {minimum}", (("minimum", minimum),), code=ErrorCode.BELOW_MINIMUM)
        )


def voucher_values(fields: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check an organizer's voucher fields (all on create, the changed ones on update; ``current``: the stored
    values). Returns the column values to write: ``code`` (as given) and ``code_normalized``, ``discount`` as JSON,
    ``ticket_type_ids`` and ``unlocks`` as sorted lists, the limits and the dates. Which ticket types exist is the
    service's to check."""
    errors: list[FieldError] = []
    for name in sorted(set(fields) - VOUCHER_FIELDS):
        errors.append(FieldError(name, "is not a voucher field", code=ErrorCode.UNKNOWN_FIELD))
    changes = {k: v for k, v in fields.items() if k in VOUCHER_FIELDS and k not in ("count", "prefix")}
    merged: dict[str, Any] = {**(current or {}), **changes}
    out: dict[str, Any] = {}
    if "code" in changes:
        code = changes["code"]
        if not is_code(code):
            errors.append(
                FieldError(
                    "code",
                    "must be 3 to 64 letters, digits, '-' or '_', starting with a letter or digit",
                    code=ErrorCode.INVALID_FORMAT,
                )
            )
        else:
            out["code"] = code.strip()
            out["code_normalized"] = normalize_code(code)
    if "discount" in changes:
        discount = parse_discount(changes["discount"], errors)
        out["discount"] = discount.as_json() if discount is not None else None
    for name, column in (("ticket_ids", "ticket_type_ids"), ("unlocks", "unlocks")):
        if name not in changes:
            continue
        ids = changes[name]
        if ids is None:
            out[column] = None if name == "ticket_ids" else []
        elif not isinstance(ids, list | tuple) or not all(isinstance(i, str) and i for i in ids):
            errors.append(FieldError(name, "must be a list of ticket type ids", code=ErrorCode.INVALID_TYPE))
        else:
            out[column] = sorted(set(ids))
    for name in ("max_uses", "max_per_order"):
        if name in changes:
            _positive(changes[name], name, errors)
            out[name] = changes[name]
    if "reserve" in changes:
        _positive(changes["reserve"], "reserve", errors, minimum=0)
        if _int(changes["reserve"]) and changes["reserve"] > MAX_RESERVE:
            errors.append(
                FieldError(
                    "reserve",
                    f"must be at most {MAX_RESERVE}",
                    (("maximum", MAX_RESERVE),),
                    code=ErrorCode.ABOVE_MAXIMUM,
                )
            )
        out["reserve"] = changes["reserve"] or 0
    for name in ("valid_from", "valid_until"):
        if name in changes:
            value = changes[name]
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                errors.append(FieldError(name, "must be a date-time with a UTC offset", code=ErrorCode.NO_TIMEZONE))
            out[name] = value
    if "note" in changes:
        note = changes["note"] or ""
        if not isinstance(note, str) or len(note) > 500:
            errors.append(FieldError("note", "must be text of at most 500 characters", code=ErrorCode.TOO_LONG))
        out["note"] = note
    if errors:
        raise InvalidInput(errors)
    # rules between fields, on the voucher as it will be
    start, end = merged.get("valid_from"), merged.get("valid_until")
    if isinstance(start, datetime) and isinstance(end, datetime) and end <= start:
        errors.append(FieldError("valid_until", "must be after valid_from", code=ErrorCode.NOT_ORDERED))
    reserve = merged.get("reserve") or 0
    max_uses = merged.get("max_uses")
    if reserve and max_uses is not None and reserve > max_uses:
        errors.append(
            FieldError("reserve", "must be at most max_uses", (("maximum", max_uses),), code=ErrorCode.ABOVE_MAXIMUM)
        )
    if reserve and len(reserved_ticket_types(merged)) != 1:
        errors.append(
            FieldError(
                "reserve",
                "sets tickets aside of one ticket type: name exactly one in ticket_ids or unlocks",
                code=ErrorCode.CONFLICT_WITH,
            )
        )
    if errors:
        raise InvalidInput(errors)
    return out


def reserved_ticket_types(values: Mapping[str, Any]) -> set[str]:
    """The ticket types a voucher's reservation could be of: those it names and those it unlocks (a reservation
    needs exactly one). Takes column names (``ticket_type_ids``) or request names (``ticket_ids``)."""
    named = values.get("ticket_type_ids", values.get("ticket_ids"))
    return set(named or ()) | set(values.get("unlocks") or ())


def check_count(count: object, prefix: object) -> tuple[int, str]:
    """The ``count`` and ``prefix`` of generated codes."""
    errors: list[FieldError] = []
    _positive(count, "count", errors)
    if _int(count) and count > MAX_GENERATED:  # type: ignore[operator]
        errors.append(
            FieldError(
                "count", f"must be at most {MAX_GENERATED}", (("maximum", MAX_GENERATED),), code=ErrorCode.ABOVE_MAXIMUM
            )
        )
    if prefix not in (None, "") and (not isinstance(prefix, str) or not _PREFIX.search(prefix)):
        errors.append(
            FieldError("prefix", "must be up to 20 letters, digits, '-' or '_'", code=ErrorCode.INVALID_FORMAT)
        )
    if errors:
        raise InvalidInput(errors)
    assert isinstance(count, int)
    return count, str(prefix or "")
