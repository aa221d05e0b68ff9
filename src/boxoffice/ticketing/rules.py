"""Rules for ticket type fields. Pure: turns submitted fields into checked column values or field errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from boxoffice import money
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.ticketing.pricing import (
    PRICING_MODELS,
    PriceTier,
    PricingModel,
    TicketPricing,
    parse_tiers,
    pricing_errors,
)

MAX_QUANTITY = 1_000_000
TICKET_FIELDS = frozenset(
    {
        "title",
        "description",
        "pricing_model",
        "base_price_cents",
        "minimum_price_cents",
        "suggested_price_cents",
        "price_tiers",
        "currency",
        "quantity",
        "starts_at",
        "ends_at",
        "tippable",
        "max_per_order",
        "price_cents",
        "position",
        "hidden",
        "waiting_list",
    }
)


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(value: object, name: str, errors: list[FieldError]) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        errors.append(FieldError(name, "must be a date-time with a timezone offset", code=ErrorCode.INVALID_TYPE))
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        errors.append(FieldError(name, "must be a date-time with a timezone offset", code=ErrorCode.NO_TIMEZONE))
        return None
    return value


def ticket_values(fields: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check submitted ticket type fields (all of them on create, the changed ones on update).

    ``current`` holds the stored values on update. Returns the column values to write. A ticket given only the
    legacy ``price_cents`` is a ``fixed`` ticket at that price.
    """
    errors: list[FieldError] = []
    unknown = set(fields) - TICKET_FIELDS
    for name in sorted(unknown):
        errors.append(FieldError(name, "is not a ticket type field", code=ErrorCode.UNKNOWN_FIELD))
    merged: dict[str, Any] = dict(current or {})
    changes: dict[str, Any] = {k: v for k, v in fields.items() if k in TICKET_FIELDS and k != "price_cents"}

    if "price_cents" in fields and fields["price_cents"] is not None:
        legacy = fields["price_cents"]
        model = fields.get("pricing_model", "fixed" if current is None else merged.get("pricing_model"))
        if model not in (None, "fixed"):
            errors.append(
                FieldError(
                    "price_cents",
                    "is the legacy fixed price; use the fields of the pricing model",
                    code=ErrorCode.NOT_APPLICABLE,
                )
            )
        elif "base_price_cents" in fields and fields["base_price_cents"] not in (None, legacy):
            errors.append(FieldError("price_cents", "conflicts with base_price_cents", code=ErrorCode.CONFLICT_WITH))
        else:
            changes["pricing_model"] = "fixed"
            changes["base_price_cents"] = legacy
    if current is not None and changes.get("pricing_model") not in (None, "dynamic") and "price_tiers" not in fields:
        changes["price_tiers"] = None
    merged.update(changes)
    if current is None:
        merged.setdefault("pricing_model", "fixed")
        merged.setdefault("currency", "usd")
        merged.setdefault("tippable", False)
        merged.setdefault("description", "")

    if "title" in changes or current is None:
        title = merged.get("title")
        if not isinstance(title, str) or not title.strip():
            errors.append(FieldError("title", "is required", code=ErrorCode.REQUIRED))
        elif len(title.strip()) > 200:
            errors.append(
                FieldError("title", "must be at most 200 characters", (("maximum", 200),), code=ErrorCode.TOO_LONG)
            )
        else:
            changes["title"] = title.strip()
    if "description" in changes:
        description = changes["description"]
        if description is None:
            changes["description"] = ""
        elif not isinstance(description, str):
            errors.append(
                FieldError("description", "must be text of at most 5000 characters", code=ErrorCode.INVALID_TYPE)
            )
        elif len(description) > 5000:
            errors.append(
                FieldError(
                    "description",
                    "must be text of at most 5000 characters",
                    (("maximum", 5000),),
                    code=ErrorCode.TOO_LONG,
                )
            )

    if "quantity" in changes or current is None:
        quantity = merged.get("quantity")
        if quantity is None:
            errors.append(FieldError("quantity", "is required", code=ErrorCode.REQUIRED))
        elif not _int(quantity):
            errors.append(FieldError("quantity", "must be an integer >= 1", code=ErrorCode.NOT_INTEGER))
        elif quantity < 1:
            errors.append(
                FieldError("quantity", "must be an integer >= 1", (("minimum", 1),), code=ErrorCode.BELOW_MINIMUM)
            )
        elif quantity > MAX_QUANTITY:
            errors.append(
                FieldError(
                    "quantity",
                    f"must be at most {MAX_QUANTITY}",
                    (("maximum", MAX_QUANTITY),),
                    code=ErrorCode.ABOVE_MAXIMUM,
                )
            )

    if "max_per_order" in changes and changes["max_per_order"] is not None:
        limit = changes["max_per_order"]
        if not _int(limit):
            errors.append(FieldError("max_per_order", "must be an integer >= 1", code=ErrorCode.NOT_INTEGER))
        elif limit < 1:
            errors.append(
                FieldError("max_per_order", "must be an integer >= 1", (("minimum", 1),), code=ErrorCode.BELOW_MINIMUM)
            )
    if "position" in changes and not _int(changes["position"]):
        errors.append(FieldError("position", "must be an integer", code=ErrorCode.NOT_INTEGER))
    for flag in ("tippable", "hidden", "waiting_list"):
        if flag in changes and not isinstance(changes[flag], bool):
            errors.append(FieldError(flag, "must be true or false", code=ErrorCode.INVALID_TYPE))

    starts = _aware(merged.get("starts_at"), "starts_at", errors)
    ends = _aware(merged.get("ends_at"), "ends_at", errors)
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("ends_at", "must be after starts_at", code=ErrorCode.NOT_ORDERED))

    currency = merged.get("currency")
    if isinstance(currency, str):
        changes_currency = money.normalize_currency(currency)
        if "currency" in changes:
            changes["currency"] = changes_currency
        merged["currency"] = changes_currency
    elif "currency" in changes or current is None:
        code = ErrorCode.REQUIRED if currency is None else ErrorCode.INVALID_TYPE
        errors.append(FieldError("currency", "must be a three-letter ISO 4217 code", code=code))

    model = merged.get("pricing_model")
    if model not in PRICING_MODELS:
        errors.append(
            FieldError("pricing_model", f"must be one of {', '.join(PRICING_MODELS)}", code=ErrorCode.INVALID_CHOICE)
        )
    else:
        tiers: tuple[PriceTier, ...] = ()
        if merged.get("price_tiers") is not None:
            tiers = parse_tiers(merged["price_tiers"], errors)
        if not any(e.field.startswith("price_tiers") for e in errors):
            pricing = TicketPricing(
                model=model,
                currency=str(merged.get("currency") or ""),
                base_price_cents=merged.get("base_price_cents"),
                minimum_price_cents=merged.get("minimum_price_cents"),
                suggested_price_cents=merged.get("suggested_price_cents"),
                tiers=tiers,
                tippable=bool(merged.get("tippable")),
            )
            errors.extend(e for e in pricing_errors(pricing) if not _already(errors, e))
        if "price_tiers" in changes and tiers:
            changes["price_tiers"] = [t.as_json() for t in tiers]
    if errors:
        raise InvalidInput(errors)
    return changes


def _already(errors: list[FieldError], error: FieldError) -> bool:
    return any(e.field == error.field for e in errors)


def pricing_from_row(row: Any) -> TicketPricing:
    """The ``TicketPricing`` of a stored ticket type (anything with the ticket type's attributes)."""
    tiers: list[FieldError] = []
    parsed = parse_tiers(row.price_tiers, tiers) if row.price_tiers else ()
    model: PricingModel = row.pricing_model
    return TicketPricing(
        model=model,
        currency=row.currency,
        base_price_cents=row.base_price_cents,
        minimum_price_cents=row.minimum_price_cents,
        suggested_price_cents=row.suggested_price_cents,
        tiers=parsed,
        tippable=row.tippable,
    )
