"""Pricing rules for ticket types and orders. Pure: no I/O, no clock (``now`` is an argument).

Three models:

* ``fixed``: every unit costs ``base_price_cents``.
* ``flexible`` (pay what you want): the buyer's price, at least ``minimum_price_cents``; no price given means the
  suggested price, else the minimum.
* ``dynamic``: an ordered list of tiers. A unit takes the first tier still in force, where ``up_to`` is how many
  units (sold or held, counted from the first) the tier covers and ``until`` is when the tier stops. The position of
  a unit is decided by the inventory update that takes it, so concurrent orders straddling a boundary pay exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from boxoffice import money
from boxoffice.errors import ErrorCode, FieldError, InvalidInput

PricingModel = Literal["fixed", "flexible", "dynamic"]
PRICING_MODELS: tuple[PricingModel, ...] = ("fixed", "flexible", "dynamic")


@dataclass(frozen=True)
class PriceTier:
    price_cents: int
    up_to: int | None = None
    until: datetime | None = None

    def in_force(self, position: int, now: datetime) -> bool:
        if self.up_to is not None and position > self.up_to:
            return False
        return not (self.until is not None and now >= self.until)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"price_cents": self.price_cents}
        if self.up_to is not None:
            out["up_to"] = self.up_to
        if self.until is not None:
            out["until"] = self.until.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return out


@dataclass(frozen=True)
class TicketPricing:
    model: PricingModel
    currency: str
    base_price_cents: int | None = None
    minimum_price_cents: int | None = None
    suggested_price_cents: int | None = None
    tiers: tuple[PriceTier, ...] = ()
    tippable: bool = False


@dataclass(frozen=True)
class Totals:
    currency: str
    subtotal_cents: int
    tip_cents: int

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.tip_cents


@dataclass(frozen=True)
class PricedLine:
    currency: str
    unit_prices: tuple[int, ...]
    tippable: bool = False

    @property
    def total_cents(self) -> int:
        return sum(self.unit_prices)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_amount(value: object, name: str, errors: list[FieldError], *, required: bool = False) -> None:
    if value is None:
        if required:
            errors.append(FieldError(name, "is required", code=ErrorCode.REQUIRED))
        return
    if not _is_int(value):
        errors.append(FieldError(name, "must be an integer amount in minor units", code=ErrorCode.NOT_INTEGER))
    elif value < 0:  # type: ignore[operator]
        errors.append(FieldError(name, "must be >= 0", (("minimum_cents", 0),), code=ErrorCode.BELOW_MINIMUM))
    elif value > money.MAXIMUM_AMOUNT:  # type: ignore[operator]
        errors.append(
            FieldError(
                name,
                f"must be <= {money.MAXIMUM_AMOUNT}",
                (("maximum_cents", money.MAXIMUM_AMOUNT),),
                code=ErrorCode.ABOVE_MAXIMUM,
            )
        )


def _parse_datetime(value: object, name: str, errors: list[FieldError]) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(FieldError(name, "must be an ISO 8601 date-time", code=ErrorCode.INVALID_FORMAT))
            return None
    else:
        errors.append(FieldError(name, "must be an ISO 8601 date-time", code=ErrorCode.INVALID_FORMAT))
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        errors.append(FieldError(name, "must include a timezone offset", code=ErrorCode.NO_TIMEZONE))
        return None
    return parsed.astimezone(UTC)


def parse_tiers(raw: object, errors: list[FieldError], name: str = "price_tiers") -> tuple[PriceTier, ...]:
    """Turn JSON-ish tiers into ``PriceTier`` objects, checking each tier's shape and the order of the list."""
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        errors.append(FieldError(name, "must be a list of tiers", code=ErrorCode.INVALID_TYPE))
        return ()
    tiers: list[PriceTier] = []
    before = len(errors)
    for i, item in enumerate(raw):
        at = f"{name}[{i}]"
        if isinstance(item, PriceTier):
            tiers.append(item)
            continue
        if not isinstance(item, Mapping):
            errors.append(
                FieldError(at, "must be an object with price_cents and up_to or until", code=ErrorCode.INVALID_TYPE)
            )
            continue
        unknown = set(item) - {"price_cents", "up_to", "until"}
        if unknown:
            errors.append(
                FieldError(at, f"unknown keys: {', '.join(sorted(map(str, unknown)))}", code=ErrorCode.UNKNOWN_FIELD)
            )
        price = item.get("price_cents")
        _check_amount(price, f"{at}.price_cents", errors, required=True)
        up_to = item.get("up_to")
        if up_to is not None and not _is_int(up_to):
            errors.append(FieldError(f"{at}.up_to", "must be an integer >= 1", code=ErrorCode.NOT_INTEGER))
            up_to = None
        elif up_to is not None and up_to < 1:
            errors.append(
                FieldError(f"{at}.up_to", "must be an integer >= 1", (("minimum", 1),), code=ErrorCode.BELOW_MINIMUM)
            )
            up_to = None
        until = _parse_datetime(item["until"], f"{at}.until", errors) if item.get("until") is not None else None
        if isinstance(price, int) and not isinstance(price, bool):
            tiers.append(PriceTier(price_cents=price, up_to=up_to, until=until))
    if len(errors) > before:
        return tuple(tiers)
    if not tiers:
        errors.append(FieldError(name, "a dynamic ticket needs at least one tier", code=ErrorCode.REQUIRED))
        return ()
    last_up_to = 0
    last_until: datetime | None = None
    for i, tier in enumerate(tiers):
        at = f"{name}[{i}]"
        is_last = i == len(tiers) - 1
        if is_last:
            if tier.up_to is not None or tier.until is not None:
                errors.append(
                    FieldError(at, "the last tier must be open-ended (no up_to, no until)", code=ErrorCode.TIER_BOUNDS)
                )
        elif tier.up_to is None and tier.until is None:
            errors.append(
                FieldError(
                    at,
                    "every tier but the last needs up_to (a sold-count ceiling) or until",
                    code=ErrorCode.TIER_BOUNDS,
                )
            )
        if tier.up_to is not None:
            if tier.up_to <= last_up_to:
                errors.append(
                    FieldError(f"{at}.up_to", "tiers must be ordered: up_to must increase", code=ErrorCode.NOT_ORDERED)
                )
            last_up_to = tier.up_to
        if tier.until is not None:
            if last_until is not None and tier.until <= last_until:
                errors.append(
                    FieldError(f"{at}.until", "tiers must be ordered: until must increase", code=ErrorCode.NOT_ORDERED)
                )
            last_until = tier.until
    return tuple(tiers)


def pricing_errors(pricing: TicketPricing) -> list[FieldError]:
    """Every rule a ticket type's pricing must satisfy, as field errors (empty when valid)."""
    errors: list[FieldError] = []
    if pricing.model not in PRICING_MODELS:
        errors.append(
            FieldError("pricing_model", f"must be one of {', '.join(PRICING_MODELS)}", code=ErrorCode.INVALID_CHOICE)
        )
        return errors
    if not money.is_supported(pricing.currency):
        errors.append(
            FieldError(
                "currency",
                f"unsupported currency; use one of {', '.join(sorted(money.SUPPORTED_CURRENCIES))}",
                code=ErrorCode.INVALID_CHOICE,
            )
        )
    _check_amount(pricing.base_price_cents, "base_price_cents", errors, required=pricing.model == "fixed")
    _check_amount(pricing.minimum_price_cents, "minimum_price_cents", errors)
    _check_amount(pricing.suggested_price_cents, "suggested_price_cents", errors)
    if pricing.model == "flexible":
        lo, hi = pricing.minimum_price_cents, pricing.suggested_price_cents
        if _is_int(lo) and _is_int(hi) and hi < lo:  # type: ignore[operator]
            errors.append(
                FieldError(
                    "suggested_price_cents",
                    "must be >= minimum_price_cents",
                    (("minimum_cents", lo),),  # type: ignore[arg-type]
                    code=ErrorCode.BELOW_MINIMUM,
                )
            )
    if pricing.model == "dynamic":
        if not pricing.tiers:
            errors.append(
                FieldError("price_tiers", "a dynamic ticket needs at least one tier", code=ErrorCode.REQUIRED)
            )
        else:
            parse_tiers(list(pricing.tiers), errors)
    elif pricing.tiers:
        errors.append(FieldError("price_tiers", "only dynamic tickets have price tiers", code=ErrorCode.NOT_APPLICABLE))
    return errors


def check_pricing(pricing: TicketPricing) -> None:
    errors = pricing_errors(pricing)
    if errors:
        raise InvalidInput(errors)


def tier_price(tiers: Sequence[PriceTier], position: int, now: datetime) -> int:
    """Price of the unit at 1-based ``position`` (units sold or held before it + 1) at ``now``."""
    for tier in tiers:
        if tier.in_force(position, now):
            return tier.price_cents
    return tiers[-1].price_cents


@dataclass(frozen=True)
class PriceStep:
    """What a buyer of a dynamic ticket is told: the next unit's price, how long it lasts (``units`` more tickets,
    and/or ``until`` a moment), and the price after that (None on the last tier)."""

    price_cents: int
    units: int | None
    until: datetime | None
    next_price_cents: int | None


def price_step(tiers: Sequence[PriceTier], taken: int, now: datetime) -> PriceStep:
    """The step of the price ladder the next unit is on, after ``taken`` units were sold or held, at ``now``."""
    position = taken + 1
    for index, tier in enumerate(tiers):
        if not tier.in_force(position, now) or index == len(tiers) - 1:
            continue
        units = tier.up_to - taken if tier.up_to is not None else None
        # the price once this tier ends: by count (the unit after its ceiling) or else by date (at its end)
        if units is not None:
            after = tier_price(tiers, tier.up_to + 1 if tier.up_to is not None else position, now)
        else:
            assert tier.until is not None  # a tier that is not the last has up_to or until (checked on save)
            after = tier_price(tiers, position, tier.until)
        return PriceStep(tier.price_cents, units, tier.until, after if after != tier.price_cents else None)
    return PriceStep(tier_price(tiers, position, now), None, None, None)


def current_unit_price(pricing: TicketPricing, taken: int, now: datetime) -> int:
    """The price the next unit would be offered at: for display. Flexible shows its suggested (else minimum)."""
    if pricing.model == "fixed":
        return pricing.base_price_cents or 0
    if pricing.model == "flexible":
        return _default_flexible_price(pricing)
    return tier_price(pricing.tiers, taken + 1, now)


def _default_flexible_price(pricing: TicketPricing) -> int:
    if pricing.suggested_price_cents is not None:
        return pricing.suggested_price_cents
    return pricing.minimum_price_cents or 0


def chosen_unit_price(pricing: TicketPricing, chosen: int | None, field: str) -> int | None:
    """The unit price of a fixed or flexible line, checked; ``None`` for dynamic (priced by position)."""
    if pricing.model == "dynamic":
        if chosen is not None:
            raise InvalidInput.one(
                field,
                "the price of a dynamic ticket is set by its tiers; leave price_cents out",
                code=ErrorCode.NOT_APPLICABLE,
            )
        return None
    if pricing.model == "fixed":
        base = pricing.base_price_cents or 0
        if chosen is not None and chosen != base:
            raise InvalidInput(
                FieldError(
                    field,
                    f"this ticket has a fixed price of {money.format_money(base, pricing.currency)}; "
                    "leave price_cents out",
                    (("expected_cents", base),),
                    code=ErrorCode.CONFLICT_WITH,
                )
            )
        return base
    if chosen is None:
        return _default_flexible_price(pricing)
    errors: list[FieldError] = []
    _check_amount(chosen, field, errors)
    if errors:
        raise InvalidInput(errors)
    minimum = pricing.minimum_price_cents or 0
    if chosen < minimum:
        raise InvalidInput(
            FieldError(
                field,
                f"must be at least the minimum price of {money.format_money(minimum, pricing.currency)}",
                (("minimum_cents", minimum),),
                code=ErrorCode.BELOW_MINIMUM,
            )
        )
    return chosen


def unit_prices(
    pricing: TicketPricing,
    quantity: int,
    *,
    chosen: int | None,
    taken_before: int,
    now: datetime,
    field: str = "price_cents",
) -> tuple[int, ...]:
    """Prices of ``quantity`` units taken right after ``taken_before`` units (sold or held) were already taken."""
    fixed = chosen_unit_price(pricing, chosen, field)
    if fixed is not None:
        return (fixed,) * quantity
    return tuple(tier_price(pricing.tiers, taken_before + i + 1, now) for i in range(quantity))


def check_tip(tip_cents: object, *, tippable: bool, field: str = "tip_cents") -> int:
    if tip_cents is None:
        return 0
    errors: list[FieldError] = []
    _check_amount(tip_cents, field, errors)
    if errors:
        raise InvalidInput(errors)
    assert isinstance(tip_cents, int)
    if tip_cents > 0 and not tippable:
        raise InvalidInput.one(field, "none of these tickets accepts tips", code=ErrorCode.NOT_TIPPABLE)
    return tip_cents


def order_totals(lines: Sequence[PricedLine], tip_cents: int) -> Totals:
    """Subtotal, tip and total of an order in one currency, within Stripe's charge limits."""
    if not lines:
        raise InvalidInput.one("lines", "an order needs at least one line", code=ErrorCode.REQUIRED)
    currencies = {line.currency for line in lines}
    if len(currencies) > 1:
        raise InvalidInput.one(
            "lines", "all tickets of one order must be in the same currency", code=ErrorCode.MIXED_CURRENCY
        )
    cur = money.currency(lines[0].currency)
    tip = check_tip(tip_cents, tippable=any(line.tippable for line in lines))
    totals = Totals(cur.code, sum(line.total_cents for line in lines), tip)
    if totals.total_cents > cur.maximum_amount:
        raise InvalidInput(
            FieldError(
                "lines",
                f"the order total may not exceed {money.format_money(cur.maximum_amount, cur.code)}",
                (("maximum_cents", cur.maximum_amount),),
                code=ErrorCode.ABOVE_MAXIMUM,
            )
        )
    if 0 < totals.total_cents < cur.minimum_charge:
        raise InvalidInput(
            FieldError(
                "lines",
                f"a paid order must total at least {money.format_money(cur.minimum_charge, cur.code)} "
                "(the card networks' minimum charge)",
                (("minimum_cents", cur.minimum_charge),),
                code=ErrorCode.BELOW_MINIMUM,
            )
        )
    return totals
