"""The checkout form: amounts and numbers typed by buyers, the lines read from the form, problems in words.

Errors are shown on the page in words a buyer understands, never as a problem document or a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from boxoffice import money
from boxoffice.errors import FieldError, InvalidInput, SoldOut
from boxoffice.events import service as events
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import LineRequest

MAX_FORM_VALUE = 500  # longer values are cut before they are echoed back into the page


def major_units(minor: int | None, currency: str) -> str:
    """``2000, "usd"`` -> ``"20.00"``; ``1500, "jpy"`` -> ``"1500"`` (what a price field shows)."""
    if minor is None:
        return ""
    exp = money.exponent(currency)
    return f"{Decimal(minor) / (10**exp):.{exp}f}" if exp else str(minor)


class AmountError(ValueError):
    pass


_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def whole_number(text: str) -> int | None:
    """``"12"`` -> ``12``; ``None`` unless the text is ASCII digits only (``str.isdigit`` also takes ``"²"``,
    which ``int`` refuses, and full-width digits, which it takes)."""
    return int(text) if text.isascii() and text.isdigit() else None


def parse_amount(text: str, currency: str) -> int | None:
    """A typed amount in minor units; ``None`` when empty. Accepts ``12.50``, ``12,50``, ``$12.50``, ``1,500``."""
    value = "".join(text.split()).lstrip("$€£¥₩₹").strip()
    if value.lower().endswith(currency.lower()):
        value = value[: -len(currency)]
    if not value:
        return None
    exp = money.exponent(currency)
    if "," in value and "." in value:
        value = value.replace(",", "")
    elif "," in value:
        head, _, tail = value.rpartition(",")
        value = f"{head}.{tail}" if exp and len(tail) <= exp and "," not in head else value.replace(",", "")
    negative = value.startswith("-")
    if not _PLAIN_NUMBER.fullmatch(value.removeprefix("-")):
        raise AmountError("not a number")  # ASCII digits only: no full-width digits, "²", "1e3", "1_000", "NaN"
    if negative:
        raise AmountError("negative")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise AmountError("not a number") from None
    minor = amount * (10**exp)
    if minor != minor.to_integral_value():
        raise AmountError("too many decimals")
    if minor > money.MAXIMUM_AMOUNT:
        raise AmountError("too large")
    return int(minor)


def _amount_problem(kind: str, what: str, currency: str) -> str:
    example = "1500" if money.exponent(currency) == 0 else "12.50"
    if kind == "negative":
        return f"Please enter an amount of zero or more for {what}"
    if kind == "too large":
        return f"Please enter a smaller amount for {what}"
    if kind == "too many decimals" and money.exponent(currency) == 0:
        return f"Please enter {what} in whole {currency.upper()}, without decimals"
    return f"Please enter {what} as an amount such as {example}"


@dataclass
class FormProblem:
    message: str
    target: str | None = None  # the id of the field at fault


@dataclass
class CheckoutForm:
    values: dict[str, str] = field(default_factory=dict)
    problems: list[FormProblem] = field(default_factory=list)

    def add(self, message: str, target: str | None = None) -> None:
        if all(p.message != message for p in self.problems):
            self.problems.append(FormProblem(message, target))

    def field_errors(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in self.problems:
            if p.target:
                out.setdefault(p.target, []).append(p.message)
        return out


def _tickets_word(n: int) -> str:
    return "ticket" if n == 1 else "tickets"


def _read_lines(
    form: CheckoutForm, types: Sequence[TicketType], max_line: int
) -> tuple[list[LineRequest], list[TicketType], int]:
    """The order lines and the tip the buyer asked for; problems are added to ``form``. The tip belongs to the
    order (one field near the total), not to a ticket."""
    lines: list[LineRequest] = []
    chosen: list[TicketType] = []
    for tt in types:
        raw_qty = form.values.get(f"qty_{tt.id}", "").strip() or "0"
        qty = whole_number(raw_qty)
        if qty is None:
            form.add(f"Please enter a whole number of tickets for {tt.title}", f"qty-{tt.id}")
            continue
        if qty == 0:
            continue
        limit = min(max_line, tt.max_per_order or max_line)
        if qty > limit:
            form.add(f"You can buy at most {limit} {tt.title} {_tickets_word(limit)} per order", f"qty-{tt.id}")
            continue
        price: int | None = None
        if tt.pricing_model == "flexible":
            try:
                price = parse_amount(form.values.get(f"price_{tt.id}", ""), tt.currency)
            except AmountError as exc:
                form.add(_amount_problem(str(exc), f"your price for {tt.title}", tt.currency), f"price-{tt.id}")
                continue
            if price is None:
                form.add(f"Please enter your price for {tt.title}", f"price-{tt.id}")
                continue
            minimum = tt.minimum_price_cents or 0
            if price < minimum:
                form.add(
                    f"Please enter at least {money.format_money(minimum, tt.currency)} for {tt.title}",
                    f"price-{tt.id}",
                )
                continue
        lines.append(LineRequest(tt.id, qty, price))
        chosen.append(tt)
    return lines, chosen, _read_tip(form, types, chosen)


def _read_tip(form: CheckoutForm, types: Sequence[TicketType], chosen: Sequence[TicketType]) -> int:
    """The order's tip to the organizer (0 when none); it needs a chosen ticket that accepts tips."""
    tippable = [tt for tt in types if tt.tippable]
    if not tippable:
        return 0
    currency = tippable[0].currency
    try:
        tip = parse_amount(form.values.get("tip", ""), currency) or 0
    except AmountError as exc:
        form.add(_amount_problem(str(exc), "your tip", currency), "tip")
        return 0
    if tip and not any(tt.tippable for tt in chosen) and chosen:
        names = " or ".join(tt.title for tt in tippable)
        form.add(f"A tip goes with a ticket that accepts tips: choose {names}, or leave the tip empty", "tip")
    return tip


def _check_buyer(form: CheckoutForm) -> None:
    try:
        events.normalize_email(form.values.get("email", ""))
    except InvalidInput as exc:
        for error in exc.errors:
            form.add(_buyer_message(error), "email")
    try:
        events.clean_name(form.values.get("name", ""))
    except InvalidInput as exc:
        for error in exc.errors:
            form.add(_buyer_message(error), "name")


def _buyer_message(error: FieldError) -> str:
    if error.field == "email":
        if "required" in error.message:
            return "Please enter your email address: your tickets are sent there"
        if "at most" in error.message:
            return "Please enter a shorter email address"
        return "Please enter a valid email address, such as name@example.com"
    if error.field == "name":
        if "at most" in error.message:
            return f"Please shorten your name to {events.MAX_NAME} characters"
        return "Please remove special characters from your name"
    return error.message[:1].upper() + error.message[1:]


def _line_index(field_name: str) -> int | None:
    if field_name.startswith("lines[") and "]" in field_name:
        digits = field_name[6 : field_name.index("]")]
        return whole_number(digits)
    return None


def _service_problems(form: CheckoutForm, exc: InvalidInput, chosen: Sequence[TicketType], max_line: int) -> None:
    """Reserve's field errors, in words, pointed at the field of the page they are about."""
    for error in exc.errors:
        index = _line_index(error.field)
        tt = chosen[index] if index is not None and index < len(chosen) else None
        if tt is not None and error.field.endswith(".price_cents"):
            if "minimum" in error.message:
                minimum = money.format_money(tt.minimum_price_cents or 0, tt.currency)
                form.add(f"Please enter at least {minimum} for {tt.title}", f"price-{tt.id}")
            else:
                form.add(f"Please check your price for {tt.title}", f"price-{tt.id}")
        elif tt is not None and error.field.endswith(".quantity"):
            limit = min(max_line, tt.max_per_order or max_line)
            form.add(f"You can buy at most {limit} {tt.title} {_tickets_word(limit)} per order", f"qty-{tt.id}")
        elif tt is not None:
            form.add(f"{tt.title} is not on sale", f"qty-{tt.id}")
        elif error.field in ("email", "name"):
            form.add(_buyer_message(error), error.field)
        elif error.field == "tip_cents":
            form.add("Tips can only be added to tickets that accept them", "tip")
        elif "same currency" in error.message:
            form.add("Tickets in different currencies must be bought in separate orders")
        else:
            form.add(_buyer_message(error).rstrip(".") + ".")


def _sold_out_message(exc: SoldOut, title: str) -> str:
    if exc.available > 0:
        return f"Only {exc.available} {_tickets_word(exc.available)} left for {title}"
    return f"{title} is sold out"


_TOO_MANY = {
    "rate": "Too many orders were placed from your network just now.",
    "held-per-email": "This email address already has tickets on hold for this event: "
    "please complete or cancel that order first.",
    "held-per-address": "Too many tickets are on hold from your network for this event right now.",
    "free-orders-per-email": "This email address has already received several free orders for this event today.",
}
