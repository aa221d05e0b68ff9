"""The ticket type form: typed amounts (in major units), limits, the sales window and the price tiers (in the
event's time zone) to the fields of ``ticketing.ticket_types`` (so the API's validation and error codes apply), the
service's field errors back to the form's inputs, and the preview of what a buyer pays.

Tiers are up to ``MAX_TIERS`` rows ``tier-<i>-price_cents``, ``tier-<i>-up_to``, ``tier-<i>-until``; empty rows are
left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boxoffice import money
from boxoffice.clock import utcnow
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events.models import Event
from boxoffice.ticketing import pricing
from boxoffice.ticketing.models import TicketType
from boxoffice.web.console.event_form import local_text, parse_local, zone_of
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.words import say_field
from boxoffice.web.pages.forms import AmountError, major_units, parse_amount, whole_number

MAX_TIERS = 6
AMOUNTS = ("base_price_cents", "minimum_price_cents", "suggested_price_cents")
COUNTS = ("quantity", "max_per_order", "position")
_TIER_FIELD = re.compile(r"price_tiers\[(\d+)\](?:\.(\w+))?")


def _amount(form: ConsoleForm, name: str, currency: str, errors: list[FieldError]) -> int | None:
    try:
        return parse_amount(form.get(name), currency)
    except AmountError as exc:
        errors.append(FieldError(name, exc.code.value, exc.amounts, code=exc.code))
        return None


def _count(form: ConsoleForm, name: str, errors: list[FieldError]) -> int | None:
    text = form.get(name)
    if not text:
        return None
    value = whole_number(text)
    if value is None:
        errors.append(FieldError(name, "must be a whole number", code=ErrorCode.NOT_INTEGER))
    return value


def ticket_fields(form: ConsoleForm, event: Event) -> dict[str, Any]:
    """The form as ticket type fields (every field: create and update send the same); ``InvalidInput`` for what
    cannot be read (an amount that is not one, a date that is not a date)."""
    currency = event.currency or "usd"
    zone = zone_of(event.timezone)
    errors: list[FieldError] = []
    model = form.get("pricing_model") or "fixed"
    fields: dict[str, Any] = {
        "title": form.get("title"),
        "description": form.raw("description").strip(),
        "pricing_model": model,
        "tippable": bool(form.get("tippable")),
        "hidden": bool(form.get("hidden")),
        "currency": currency,
    }
    for name in AMOUNTS:
        fields[name] = _amount(form, name, currency, errors)
    for name in COUNTS:
        fields[name] = _count(form, name, errors)
    if fields["position"] is None:
        fields["position"] = 0
    if fields["quantity"] is None and not any(e.field == "quantity" for e in errors):
        errors.append(FieldError("quantity", "is required", code=ErrorCode.REQUIRED))
    for name in ("starts_at", "ends_at"):
        fields[name] = parse_local(form.get(name), zone, name, errors)
    if model != "fixed":
        fields["base_price_cents"] = None
    if model != "flexible":
        fields["minimum_price_cents"] = fields["suggested_price_cents"] = None
    tiers: list[dict[str, Any]] = []
    for i in range(MAX_TIERS):
        price_text, up_to_text, until_text = (form.get(f"tier-{i}-{k}") for k in ("price_cents", "up_to", "until"))
        if not (price_text or up_to_text or until_text):
            continue
        tier: dict[str, Any] = {"price_cents": _amount(form, f"tier-{i}-price_cents", currency, errors)}
        if up_to_text:
            tier["up_to"] = _count(form, f"tier-{i}-up_to", errors)
        until = parse_local(until_text, zone, f"tier-{i}-until", errors)
        if until is not None:
            tier["until"] = until.isoformat()
        tier["_row"] = i
        tiers.append(tier)
    fields["price_tiers"] = [{k: v for k, v in t.items() if k != "_row"} for t in tiers] if model == "dynamic" else None
    form.values["_tier_rows"] = ",".join(str(t["_row"]) for t in tiers)
    if errors:
        raise InvalidInput(errors)
    return fields


def form_target(form: ConsoleForm, field: str) -> str:
    """The input a service error's ``field`` points at: ``price_tiers[1].up_to`` -> ``tier-<row>-up_to``."""
    found = _TIER_FIELD.fullmatch(field)
    if found is None:
        return "tier-0-price_cents" if field == "price_tiers" else field
    rows = [r for r in form.values.get("_tier_rows", "").split(",") if r]
    index = int(found.group(1))
    row = rows[index] if index < len(rows) else str(index)
    return f"tier-{row}-{found.group(2) or 'price_cents'}"


_ROW_FIELD = re.compile(r"tier-\d+-(\w+)")


def _kind(field: str) -> str:
    found = _ROW_FIELD.fullmatch(field) or _TIER_FIELD.fullmatch(field)
    if found is None:
        return field
    return found.group(found.lastindex or 1) if found.re is _ROW_FIELD else (found.group(2) or "price_tiers")


def add_service_errors(form: ConsoleForm, errors: list[FieldError], currency: str) -> None:
    """The errors (the service's, or the form's own) in words, each at its input."""
    for e in errors:
        form.add(say_field(e.code, _kind(e.field), e.amounts, currency=currency), form_target(form, e.field))


def ticket_values(tt: TicketType, event: Event) -> dict[str, str]:
    """A ticket type as the form's values."""
    values = {
        "title": tt.title,
        "description": tt.description,
        "pricing_model": tt.pricing_model,
        "tippable": "on" if tt.tippable else "",
        "hidden": "on" if tt.hidden else "",
        "quantity": str(tt.quantity),
        "max_per_order": "" if tt.max_per_order is None else str(tt.max_per_order),
        "position": str(tt.position),
        "starts_at": local_text(tt.starts_at, event.timezone),
        "ends_at": local_text(tt.ends_at, event.timezone),
    }
    for name in AMOUNTS:
        values[name] = major_units(getattr(tt, name), tt.currency)
    for i, tier in enumerate(tt.price_tiers or []):
        values[f"tier-{i}-price_cents"] = major_units(int(tier["price_cents"]), tt.currency)
        values[f"tier-{i}-up_to"] = str(tier.get("up_to") or "")
        until = tier.get("until")
        values[f"tier-{i}-until"] = local_text(datetime.fromisoformat(until), event.timezone) if until else ""
    return values


@dataclass(frozen=True)
class PreviewRow:
    price: str
    applies: str  # "tickets 1 to 100", "until ...", "the rest"


@dataclass(frozen=True)
class Preview:
    summary: str
    rows: list[PreviewRow]


def preview(fields: dict[str, Any], event: Event, *, sold: int = 0, now: datetime | None = None) -> Preview:
    """What a buyer pays under these fields, computed by ``ticketing.pricing`` (``InvalidInput`` if invalid)."""
    now = now or utcnow()
    currency = fields["currency"]
    errors: list[FieldError] = []
    tiers = pricing.parse_tiers(fields["price_tiers"], errors) if fields.get("price_tiers") else ()
    rules = pricing.TicketPricing(
        model=fields["pricing_model"],
        currency=currency,
        base_price_cents=fields.get("base_price_cents"),
        minimum_price_cents=fields.get("minimum_price_cents"),
        suggested_price_cents=fields.get("suggested_price_cents"),
        tiers=tiers,
        tippable=bool(fields.get("tippable")),
    )
    errors.extend(pricing.pricing_errors(rules) if not errors else [])
    if errors:
        raise InvalidInput(errors)

    def fmt(cents: int) -> str:
        return money.format_money(cents, currency)

    tip = " Buyers may add a tip." if rules.tippable else ""
    if rules.model == "fixed":
        return Preview(f"A buyer pays {fmt(rules.base_price_cents or 0)} per ticket.{tip}", [])
    if rules.model == "flexible":
        minimum = rules.minimum_price_cents or 0
        suggested = rules.suggested_price_cents
        said = f", {fmt(suggested)} suggested" if suggested is not None else ""
        return Preview(f"A buyer chooses the price: at least {fmt(minimum)}{said}.{tip}", [])
    rows: list[PreviewRow] = []
    first = 1
    zone = zone_of(event.timezone)
    for index, tier in enumerate(rules.tiers):
        parts = []
        if tier.up_to is not None:
            parts.append(f"tickets {first} to {tier.up_to}")
            first = tier.up_to + 1
        if tier.until is not None:
            local = tier.until.astimezone(zone) if zone else tier.until
            parts.append(f"until {local:%d %b %Y %H:%M} {local.tzname()}")
        if index == len(rules.tiers) - 1:
            parts = parts if parts else [f"tickets from {first} on" if first > 1 else "every ticket"]
        rows.append(PreviewRow(fmt(tier.price_cents), " or ".join(parts) if len(parts) > 1 else parts[0]))
    current = pricing.current_unit_price(rules, sold, now)
    return Preview(f"The next buyer pays {fmt(current)} ({sold} sold so far).{tip}", rows)
