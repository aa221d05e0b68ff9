"""The buyer pages' words for every error code: one table, ``WORDS``. A page says what went wrong from an error's
``code``, the field it names and the amounts it quotes; it never reads the error's English ``message``.

Each code has a sentence for any field (``""``) and, where a buyer deserves a more precise one, sentences for the
kinds of field the pages show (the field's last name: ``email``, ``price_cents``, ``quantity``, ``lines``...). A key
ending in ``/none`` is used when the error quotes a bound of zero (no tickets left, an amount under zero).

Placeholders: ``{title}`` (the ticket type), ``{what}`` (the field in words: "your price for Supporter"),
``{minimum}``/``{maximum}``/``{available}``/... (the amounts the error quotes: money when they are ``*_cents``),
``{tickets}`` ("ticket" or "tickets", for the count quoted), ``{currency}`` (``USD``) and ``{example}`` (an amount as
typed in that currency).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from boxoffice import money
from boxoffice.errors import ErrorCode

_AMOUNT_WORDS = "Please enter {what} as an amount such as {example}"
_CHECK = "Please check {what}"

WORDS: dict[ErrorCode, dict[str, str]] = {
    ErrorCode.REQUIRED: {
        "": "Please enter {what}",
        "email": "Please enter your email address: your tickets are sent there",
        "lines": "Please choose at least one ticket",
        "ticket_id": "Please choose at least one ticket",
        "tip_cents": "A tip goes with a ticket that accepts tips: choose {title}, or leave the tip empty",
        "choice": "Please choose an answer for {what}",
        "multiple_choice": "Please choose at least one option for {what}",
        "yes_no": "Please answer {what} with yes or no",
        "country": "Please choose a country for {what}",
    },
    ErrorCode.TOO_LONG: {
        "": "Please shorten {what} to {maximum} characters",
        "email": "Please enter a shorter email address",
    },
    ErrorCode.TOO_SHORT: {"": "Please enter at least {minimum} characters for {what}"},
    ErrorCode.INVALID_TYPE: {"": _CHECK},
    ErrorCode.NOT_INTEGER: {
        "": "Please enter {what} as a whole number",
        "quantity": "Please enter a whole number of tickets for {title}",
        "price_cents": "Please enter {what} in whole {currency}, without decimals",
        "tip_cents": "Please enter {what} in whole {currency}, without decimals",
    },
    ErrorCode.INVALID_FORMAT: {
        "": _CHECK,
        "email": "Please enter a valid email address, such as name@example.com",
        "name": "Please remove special characters from your name",
        "price_cents": _AMOUNT_WORDS,
        "tip_cents": _AMOUNT_WORDS,
        "phone": "Please enter {what} as an international number, such as +49 30 1234567",
        "date": "Please enter {what} as a date, such as 2027-03-14",
        "number": "Please enter {what} as a number, such as 12 or 12.5",
        "attendee_email": "Please enter a valid email address as {what}",
    },
    ErrorCode.NO_TIMEZONE: {"": "Please give {what} with its time zone"},
    ErrorCode.NONEXISTENT_TIME: {
        "": "Please choose another time for {what}: the clocks skip that hour when daylight saving time starts"
    },
    ErrorCode.AMBIGUOUS_TIME: {
        "": "Please give {what} with its UTC offset: that time happens twice when the clocks go back"
    },
    ErrorCode.INVALID_CHOICE: {
        "": "Please choose one of the options offered for {what}",
        "country": "Please choose a country from the list for {what}",
    },
    ErrorCode.BELOW_MINIMUM: {
        "": "Please enter at least {minimum} for {what}",
        "/none": "Please enter an amount of zero or more for {what}",
        "price_cents": "Please enter at least {minimum} for {title}",
        "quantity": "Please choose at least {minimum} {title} {tickets}",
        "lines": "A paid order must total at least {minimum} (the card networks' minimum charge)",
    },
    ErrorCode.ABOVE_MAXIMUM: {
        "": "Please enter at most {maximum} for {what}",
        "price_cents": "Please enter a smaller amount for {what}",
        "tip_cents": "Please enter a smaller amount for {what}",
        "lines": "An order may total at most {maximum}: please split it into several orders",
    },
    ErrorCode.OVER_LIMIT: {
        "": "You can buy at most {maximum} {title} {tickets} per order",
        "lines": "An order may have at most {maximum} kinds of tickets: please split it into several orders",
    },
    ErrorCode.UNKNOWN_FIELD: {"": "Please reload the page and try again: {what} is not part of this form"},
    ErrorCode.CONFLICT_WITH: {
        "": _CHECK,
        "transfer_email": "This address already holds the ticket: please enter the new holder's email address",
    },
    ErrorCode.NOT_APPLICABLE: {"": "Please leave {what} empty: it does not apply to this ticket"},
    ErrorCode.NOT_ORDERED: {"": "Please check {what}: it must come after the one before it"},
    ErrorCode.TIER_BOUNDS: {"": "Please check the price tiers: every tier but the last needs an end"},
    ErrorCode.MIXED_CURRENCY: {"": "Tickets in different currencies must be bought in separate orders"},
    ErrorCode.NOT_TIPPABLE: {"": "Tips can only be added to tickets that accept them"},
    ErrorCode.NOT_FOUND: {"": "We could not find {what}", "ticket_id": "{title} is not on sale"},
    ErrorCode.NOT_ON_SALE: {"": "This event is not on sale"},
    ErrorCode.SALES_PAUSED: {"": "Ticket sales for this event are paused right now, so nothing was reserved"},
    ErrorCode.NOT_STARTED: {"": "Sales for {title} have not started yet"},
    ErrorCode.SALES_ENDED: {"": "Sales for {title} have ended"},
    ErrorCode.SOLD_OUT: {"": "Only {available} {tickets} left for {title}", "/none": "{title} is sold out"},
    ErrorCode.KEY_REUSED: {"": "This order was already sent with other details: please reload the page and try again"},
    ErrorCode.INVALID_JSON: {"": "The form could not be read: please reload the page and try again"},
    ErrorCode.HTTPS_REQUIRED: {"": "Please give {what} as an https:// address"},
    ErrorCode.FORBIDDEN_ADDRESS: {"": "Please give {what} on the public internet: private addresses are not allowed"},
    ErrorCode.INVALID: {"": _CHECK, "code": "Not a ticket of this event"},
    # the door's answers (the scanner page shows them in large type)
    ErrorCode.ALREADY_CHECKED_IN: {"": "Already checked in"},
    ErrorCode.CANCELED: {"": "Ticket canceled"},
    ErrorCode.REFUNDED: {"": "Ticket refunded"},
    ErrorCode.NOT_PAID: {"": "Order not paid"},
    ErrorCode.NOT_ON_LIST: {"": "This ticket type does not enter here"},
    ErrorCode.OUTSIDE_WINDOW: {"": "Outside this entrance's opening hours"},
    ErrorCode.REPLACED: {"": "Old code: this ticket was given a new code"},
    ErrorCode.VOUCHER_UNKNOWN: {"": "This code is not valid for this event: please check it"},
    ErrorCode.VOUCHER_EXPIRED: {"": "This code has expired"},
    ErrorCode.VOUCHER_NOT_YET_VALID: {"": "This code is not valid yet"},
    ErrorCode.VOUCHER_USED_UP: {
        "": "This code can be used for {remaining} more {tickets} only",
        "/none": "This code has been used up",
    },
    ErrorCode.VOUCHER_NOT_APPLICABLE: {"": "This code does not apply to the tickets you chose"},
}

# the fields the pages show, in words (``{title}``: the ticket type)
_WHAT = {
    "email": "your email address",
    "name": "your name",
    "price_cents": "your price for {title}",
    "tip_cents": "your tip",
    "quantity": "the number of {title} tickets",
    "ticket_id": "{title}",
    "lines": "your order",
    "voucher": "your code",
}


def field_kind(field: str) -> str:
    """``lines[0].price_cents`` -> ``price_cents``; ``email`` -> ``email``."""
    return re.sub(r"\[\d+\]", "", field).rsplit(".", 1)[-1]


class _Words(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""  # an amount the error did not quote: left out (every rule quotes what its words need)


def say(
    code: ErrorCode,
    field: str,
    *,
    title: str = "",
    currency: str = "usd",
    amounts: Mapping[str, int] | tuple[tuple[str, int], ...] = (),
    what: str | None = None,
) -> str:
    """The sentence a buyer reads for ``code`` on ``field`` (a ticket type's ``title`` and ``currency`` when the
    field is about one), quoting ``amounts`` (``minimum_cents`` -> ``{minimum}`` as money). ``what``: the field in
    words when the caller knows them better (a question's label), instead of ``_WHAT``'s."""
    quoted = dict(amounts)
    kind = field_kind(field)
    table = WORDS[code]
    template = None
    if any(value == 0 for value in quoted.values()):
        template = table.get(f"{kind}/none") or table.get("/none")
    template = template or table.get(kind) or table[""]
    title = title or "this ticket"
    words = _Words(title=title, currency=currency.upper(), example="1500" if money.exponent(currency) == 0 else "12.50")
    words["what"] = what if what is not None else _WHAT.get(kind, kind.replace("_", " ")).format(title=title)
    for name, value in quoted.items():
        if name.endswith("_cents"):
            words[name.removesuffix("_cents")] = money.format_money(value, currency)
        else:
            words[name] = str(value)
    count = quoted.get("maximum", quoted.get("available", quoted.get("minimum", quoted.get("remaining"))))
    words["tickets"] = "ticket" if count == 1 else "tickets"
    sentence = " ".join(template.format_map(words).split())
    return sentence[:1].upper() + sentence[1:]
