"""The checkout form: amounts and numbers typed by buyers, the lines read from the form, problems in words.

Errors are shown on the page in words a buyer understands, never as a problem document or a stack trace. The words
come from ``words.WORDS`` by each error's code; the rules themselves (limits per order, minimum prices, currencies)
are checked by ticketing alone: the page reads its form fields and asks the service.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from boxoffice import money
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events import service as events
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import LineRequest
from boxoffice.web.pages.words import say

MAX_FORM_VALUE = 500  # longer values are cut before they are echoed back into the page


def major_units(minor: int | None, currency: str) -> str:
    """``2000, "usd"`` -> ``"20.00"``; ``1500, "jpy"`` -> ``"1500"`` (what a price field shows)."""
    if minor is None:
        return ""
    exp = money.exponent(currency)
    return f"{Decimal(minor) / (10**exp):.{exp}f}" if exp else str(minor)


class AmountError(ValueError):
    """A typed amount that is not one: ``code`` says why (``invalid_format``, ``below_minimum``, ``not_integer``
    for decimals in a currency without, ``above_maximum``), ``amounts`` the bound it quotes."""

    def __init__(self, code: ErrorCode, amounts: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__(code.value)
        self.code = code
        self.amounts = amounts


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
        # ASCII digits only: no full-width digits, "²", "1e3", "1_000", "NaN"
        raise AmountError(ErrorCode.INVALID_FORMAT)
    if negative:
        raise AmountError(ErrorCode.BELOW_MINIMUM, (("minimum_cents", 0),))
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise AmountError(ErrorCode.INVALID_FORMAT) from None
    minor = amount * (10**exp)
    if minor != minor.to_integral_value():  # too many decimals: whole units only where the currency has none
        raise AmountError(ErrorCode.INVALID_FORMAT if exp else ErrorCode.NOT_INTEGER)
    if minor > money.MAXIMUM_AMOUNT:
        raise AmountError(ErrorCode.ABOVE_MAXIMUM, (("maximum_cents", money.MAXIMUM_AMOUNT),))
    return int(minor)


def _amount_problem(exc: AmountError, field_name: str, tt: TicketType) -> str:
    return say(exc.code, field_name, title=tt.title, currency=tt.currency, amounts=exc.amounts)


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


def _read_lines(form: CheckoutForm, types: Sequence[TicketType]) -> tuple[list[LineRequest], list[TicketType], int]:
    """The order lines and the tip the buyer asked for, as typed; problems reading the fields are added to ``form``.
    Whether the order keeps the rules (limits per order, minimum prices) is the service's to say. The tip belongs to
    the order (one field near the total), not to a ticket."""
    lines: list[LineRequest] = []
    chosen: list[TicketType] = []
    for tt in types:
        raw_qty = form.values.get(f"qty_{tt.id}", "").strip() or "0"
        qty = whole_number(raw_qty)
        if qty is None:
            form.add(say(ErrorCode.NOT_INTEGER, "quantity", title=tt.title), f"qty-{tt.id}")
            continue
        if qty == 0:
            continue
        price: int | None = None
        if tt.pricing_model == "flexible":
            try:
                price = parse_amount(form.values.get(f"price_{tt.id}", ""), tt.currency)
            except AmountError as exc:
                form.add(_amount_problem(exc, "price_cents", tt), f"price-{tt.id}")
                continue
            if price is None:  # the field comes filled in with the suggested price: emptied, it is asked again
                form.add(say(ErrorCode.REQUIRED, "price_cents", title=tt.title), f"price-{tt.id}")
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
        form.add(say(exc.code, "tip_cents", currency=currency, amounts=exc.amounts), "tip")
        return 0
    if tip and not any(tt.tippable for tt in chosen) and chosen:
        form.add(say(ErrorCode.REQUIRED, "tip_cents", title=" or ".join(tt.title for tt in tippable)), "tip")
    return tip


def _check_buyer(form: CheckoutForm) -> None:
    try:
        events.normalize_email(form.values.get("email", ""))
    except InvalidInput as exc:
        _service_problems(form, exc.errors, [])
    try:
        events.clean_name(form.values.get("name", ""))
    except InvalidInput as exc:
        _service_problems(form, exc.errors, [])


def _line_index(field_name: str) -> int | None:
    if field_name.startswith("lines[") and "]" in field_name:
        digits = field_name[6 : field_name.index("]")]
        return whole_number(digits)
    return None


def _service_problems(form: CheckoutForm, errors: Sequence[FieldError], chosen: Sequence[TicketType]) -> None:
    """The service's field errors, in words by their codes, pointed at the field of the page they are about
    (``lines[i]`` is the ``i``-th of the ``chosen`` ticket types, the order the page sent its lines in)."""
    for error in errors:
        index = _line_index(error.field)
        tt = chosen[index] if index is not None and index < len(chosen) else None
        currency = tt.currency if tt is not None else (chosen[0].currency if chosen else "usd")
        words = say(error.code, error.field, title=tt.title if tt else "", currency=currency, amounts=error.amounts)
        form.add(words, _target(error.field, tt, chosen))


def _target(field_name: str, tt: TicketType | None, chosen: Sequence[TicketType]) -> str | None:
    """The id of the page's input an error is about."""
    if tt is not None:
        return f"price-{tt.id}" if field_name.endswith(".price_cents") else f"qty-{tt.id}"
    if field_name in ("email", "name", "voucher"):
        return field_name
    if field_name == "tip_cents":
        return "tip"  # the order's one tip field
    return None


_TOO_MANY = {
    "rate": "Too many orders were placed from your network just now.",
    "held-per-email": "This email address already has tickets on hold for this event: "
    "please complete or cancel that order first.",
    "held-per-address": "Too many tickets are on hold from your network for this event right now.",
    "free-orders-per-email": "This email address has already received several free orders for this event today.",
}
