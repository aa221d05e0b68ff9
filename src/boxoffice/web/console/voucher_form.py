"""The voucher form: what an organizer typed (a code or a number of codes to generate, a discount in major units, the
ticket types as checkboxes, limits, the validity in the event's time zone) as the fields of
``ticketing.voucher_codes`` (so the API's rules and error codes apply), the service's field errors back to the form's
inputs, and a stored voucher as what the list and the form show.

Discount: ``discount_kind`` (``""``: none, ``percent``, ``amount``: off each ticket, ``price``: a fixed price) and
``discount_value`` (a whole percentage, or an amount in the event's currency). Checkboxes: ``ticket_ids`` (the
visible types it applies to; none ticked: every visible one) and ``unlocks`` (hidden types it makes buyable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events.models import Event
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.voucher_models import Voucher
from boxoffice.web.console.event_form import local_text, parse_local, zone_of
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.words import say_field
from boxoffice.web.pages.forms import AmountError, major_units, parse_amount, whole_number

DISCOUNT_KINDS = [
    ("", "No discount (an access code)"),
    ("percent", "A percentage off each ticket"),
    ("amount", "An amount off each ticket"),
    ("price", "A fixed price per ticket (0: free)"),
]
# The service's field (its last part, without list indexes) -> the form's input it is shown beside.
TARGETS = {"percent": "discount_value", "amount_cents": "discount_value", "price_cents": "discount_value"}
COUNTS = ("max_uses", "max_per_order", "reserve")


def _count(form: ConsoleForm, name: str, errors: list[FieldError]) -> int | None:
    text = form.get(name)
    if not text:
        return None
    value = whole_number(text)
    if value is None:
        errors.append(FieldError(name, "must be a whole number", code=ErrorCode.NOT_INTEGER))
    return value


def _discount(form: ConsoleForm, currency: str, errors: list[FieldError]) -> dict[str, int] | None:
    kind, text = form.get("discount_kind"), form.get("discount_value")
    if not kind:
        if text:
            errors.append(FieldError("discount_kind", "choose the kind of discount", code=ErrorCode.REQUIRED))
        return None
    if kind not in ("percent", "amount", "price"):
        errors.append(FieldError("discount_kind", "not a kind of discount", code=ErrorCode.INVALID_CHOICE))
        return None
    if not text:
        errors.append(FieldError("discount_value", "is required", code=ErrorCode.REQUIRED))
        return None
    if kind == "percent":
        value = whole_number(text.removesuffix("%").strip())
        if value is None:
            errors.append(FieldError("discount_value", "must be a whole number", code=ErrorCode.NOT_INTEGER))
            return None
        return {"percent": value}
    try:
        cents = parse_amount(text, currency)
    except AmountError as exc:
        errors.append(FieldError("discount_value", exc.code.value, exc.amounts, code=exc.code))
        return None
    return {"amount_cents" if kind == "amount" else "price_cents": cents or 0}


def voucher_fields(form: ConsoleForm, checked: dict[str, list[str]], event: Event, *, creating: bool) -> dict[str, Any]:
    """The form as the service's voucher fields (every field: an edit sends them all, as the form shows them all);
    ``InvalidInput`` for what cannot be read (a number that is not one, a date that is not a date). ``checked``:
    the ticked ``ticket_ids`` and ``unlocks``."""
    errors: list[FieldError] = []
    fields: dict[str, Any] = {}
    count_text = form.get("count") if creating else ""
    if count_text:
        fields["count"] = _count(form, "count", errors)
        fields["prefix"] = form.get("prefix")
        if form.get("code"):
            fields["code"] = form.get("code")  # both given: the service says to choose one
    else:
        fields["code"] = form.get("code") or None
        if fields["code"] is None and not creating:
            errors.append(FieldError("code", "is required", code=ErrorCode.REQUIRED))
    fields["discount"] = _discount(form, event.currency or "usd", errors)
    fields["ticket_ids"] = checked.get("ticket_ids") or None
    fields["unlocks"] = checked.get("unlocks") or []
    for name in COUNTS:
        fields[name] = _count(form, name, errors)
    fields["reserve"] = fields["reserve"] or 0
    zone = zone_of(event.timezone)
    for name in ("valid_from", "valid_until"):
        fields[name] = parse_local(form.get(name), zone, name, errors)
    fields["note"] = form.raw("note").strip()
    if errors:
        raise InvalidInput(errors)
    return fields


def target(field: str) -> str:
    """The input a service error's ``field`` is shown beside: ``discount.percent`` -> ``discount_value``,
    ``ticket_ids[1]`` -> ``ticket_ids``."""
    base = field.split("[", 1)[0]
    last = base.rsplit(".", 1)[-1]
    return TARGETS.get(last, base)


def add_service_errors(form: ConsoleForm, errors: list[FieldError], currency: str) -> None:
    """The service's errors (or the form's own) in words, each beside its input."""
    for e in errors:
        name = target(e.field)
        form.add(say_field(e.code, name, e.amounts, currency=currency), name)


def form_values(voucher: Voucher, event: Event) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A stored voucher as the form's values, and its ticked checkboxes."""
    currency = event.currency or "usd"
    discount = rules.discount_from_json(voucher.discount)
    value = ""
    if discount is not None:
        value = str(discount.value) if discount.kind == "percent" else major_units(discount.value, currency)
    values = {
        "code": voucher.code,
        "discount_kind": discount.kind if discount is not None else "",
        "discount_value": value,
        "max_uses": "" if voucher.max_uses is None else str(voucher.max_uses),
        "max_per_order": "" if voucher.max_per_order is None else str(voucher.max_per_order),
        "reserve": str(voucher.reserve) if voucher.reserve else "",
        "valid_from": local_text(voucher.valid_from, event.timezone),
        "valid_until": local_text(voucher.valid_until, event.timezone),
        "note": voucher.note,
    }
    checked = {"ticket_ids": list(voucher.ticket_type_ids or []), "unlocks": list(voucher.unlocks or [])}
    return values, checked


@dataclass(frozen=True)
class VoucherRow:
    """A voucher as the list shows it."""

    voucher: Voucher
    discount: str
    applies: str
    unlocks: str
    uses: str
    remaining: str
    validity: str
    reserve: str


def shown_time(value: datetime | None, zone_name: str) -> str:
    """A moment as the console's tables show it, in the event's time zone: ``12 Jun 2027 19:00 CEST``."""
    if value is None:
        return ""
    local = value.astimezone(zone_of(zone_name) or UTC)
    return f"{local:%-d %b %Y %H:%M} {local.tzname()}"


def _titles(ids: list[Any] | None, titles: dict[str, str]) -> str:
    return ", ".join(titles.get(str(i), "(deleted)") for i in ids or [])


def voucher_row(v: Voucher, event: Event, tickets: list[TicketType]) -> VoucherRow:
    currency = event.currency or "usd"
    titles = {tt.id: tt.title for tt in tickets}
    discount = rules.discount_from_json(v.discount)
    if v.ticket_type_ids is not None:
        applies = _titles(v.ticket_type_ids, titles)
    else:
        applies = "only what it unlocks" if v.unlocks else "every visible ticket type"
    start, end = shown_time(v.valid_from, event.timezone), shown_time(v.valid_until, event.timezone)
    validity = "always"
    if start or end:
        validity = " ".join(p for p in (f"from {start}" if start else "", f"until {end}" if end else "") if p)
    reserve = "none"
    if v.reserve:
        kind = titles.get(v.reserved_ticket_type_id or "", "")
        reserve = f"{v.reserved_left} of {v.reserve} still set aside ({kind})"
    return VoucherRow(
        voucher=v,
        discount=discount.describe(currency) if discount is not None else "no discount",
        applies=applies,
        unlocks=_titles(v.unlocks, titles) or "nothing",
        uses=f"{v.uses_taken} / {v.max_uses}" if v.max_uses is not None else f"{v.uses_taken} / no limit",
        remaining="no limit" if v.max_uses is None else str(max(v.max_uses - v.uses_taken, 0)),
        validity=validity,
        reserve=reserve,
    )
