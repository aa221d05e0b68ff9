"""The console's words for the error codes of its own fields (email, password, role, name...); any other field
falls back to the buyer pages' table (``web.pages.words``). Pages say what went wrong from an error's ``code``,
never from its English message."""

from __future__ import annotations

from collections.abc import Mapping

from boxoffice import money
from boxoffice.errors import ErrorCode
from boxoffice.events.rules import HOLD_MINUTES, OFFER_MINUTES
from boxoffice.web.pages.words import field_kind, say

WORDS: dict[tuple[ErrorCode, str], str] = {
    (ErrorCode.REQUIRED, "email"): "Please enter an email address",
    (ErrorCode.INVALID_FORMAT, "email"): "Please enter a valid email address, such as name@example.com",
    (ErrorCode.TOO_LONG, "email"): "Please enter a shorter email address",
    (ErrorCode.REQUIRED, "password"): "Please enter a password",
    (ErrorCode.TOO_SHORT, "password"): "Please choose a password of at least {minimum} characters",
    (ErrorCode.TOO_LONG, "password"): "Please choose a password of at most {maximum} characters",
    (ErrorCode.INVALID_FORMAT, "password"): "Please use letters, digits, spaces and symbols only in the password",
    (ErrorCode.CONFLICT_WITH, "password_confirm"): "The two passwords differ: please type the same password twice",
    (ErrorCode.REQUIRED, "role"): "Please choose a role",
    (ErrorCode.INVALID_CHOICE, "role"): "Please choose one of the roles offered",
    (ErrorCode.TOO_LONG, "name"): "Please shorten the name to {maximum} characters",
    (ErrorCode.INVALID_FORMAT, "name"): "Please remove special characters from the name",
}


# The console's fields in words (events, ticket types, refunds): any code's sentence for them names them so.
WHAT: dict[str, str] = {
    "title": "a title",
    "description": "the description",
    "starts_at": "the start",
    "ends_at": "the end",
    "timezone": "the time zone",
    "currency": "the currency",
    "venue_name": "the venue",
    "venue_address": "the venue's address",
    "image_url": "the image URL",
    "status": "the status",
    "hold_minutes": "the hold time in minutes",
    "waiting_list_offer_minutes": "the offer time in minutes",
    "quantity": "the number of tickets for sale",
    "max_per_order": "the most tickets per order",
    "position": "the position",
    "pricing_model": "the pricing",
    "base_price_cents": "the price",
    "minimum_price_cents": "the minimum price",
    "suggested_price_cents": "the suggested price",
    "price_cents": "the tier's price",
    "up_to": "the tier's last ticket number",
    "until": "the tier's end date",
    "price_tiers": "the price tiers",
    "amount_cents": "the amount to refund",
    "url": "the address",
    "event_types": "the events to send",
    "code": "the code",
    "count": "the number of codes",
    "prefix": "the prefix",
    "discount_kind": "the kind of discount",
    "discount_value": "the discount",
    "ticket_ids": "the ticket types",
    "unlocks": "the hidden ticket types",
    "max_uses": "the most uses",
    "reserve": "the tickets set aside",
    "valid_from": "the start of validity",
    "valid_until": "the end of validity",
    "note": "the note",
    "list_name": "the list's name",
    "ticket_type_ids": "the ticket types",
    "opens_at": "the opening time",
    "closes_at": "the closing time",
    "label": "the device's name",
    "checkin_list_id": "the check-in list",
    "question_label": "the question",
    "help_text": "the help text",
    "kind": "the kind of answer",
    "scope": "how often it is asked",
    "options": "the options",
    "condition_question": "the question it depends on",
    "condition_values": "the answers it depends on",
    "attendee_details": "the attendee details",
    "changes_until": "the end of changes by buyers",
}
CONSOLE_WORDS: dict[tuple[ErrorCode, str], str] = {
    (ErrorCode.NOT_ORDERED, "ends_at"): "The end must be after the start",
    (ErrorCode.NOT_ORDERED, "closes_at"): "The list must close after it opens",
    (ErrorCode.NOT_FOUND, "ticket_type_ids"): "Please choose among this event's ticket types",
    (ErrorCode.NOT_FOUND, "checkin_list_id"): "Please choose one of this event's check-in lists",
    (ErrorCode.REQUIRED, "checkin_list_id"): "Please choose a check-in list",
    (ErrorCode.NOT_ORDERED, "up_to"): "Each tier's last ticket number must be higher than the tier's before it",
    (ErrorCode.NOT_ORDERED, "until"): "Each tier's end date must be later than the tier's before it",
    (ErrorCode.INVALID_FORMAT, "timezone"): "Please choose a time zone from the list, such as Europe/Berlin",
    (ErrorCode.INVALID_CHOICE, "currency"): "Please enter a supported three-letter currency code, such as USD",
    (ErrorCode.MIXED_CURRENCY, "currency"): "An event sells in one currency: ticket types use the event's",
    (ErrorCode.CONFLICT_WITH, "currency"): "The currency cannot change once the event has ticket types",
    (ErrorCode.INVALID_FORMAT, "venue_name"): "Please remove special characters (such as tabs) from the venue",
    (ErrorCode.INVALID_FORMAT, "venue_address"): "Please remove special characters (such as tabs) from the address",
    (ErrorCode.INVALID_FORMAT, "image_url"): "Please enter an https link, such as https://example.com/poster.jpg",
    (ErrorCode.INVALID_CHOICE, "status"): "Please choose one of the statuses offered",
    **{
        (code, "hold_minutes"): f"Please enter {HOLD_MINUTES[0]} to {HOLD_MINUTES[1]} minutes for the hold, "
        "or leave it empty for the server's"
        for code in (ErrorCode.BELOW_MINIMUM, ErrorCode.ABOVE_MAXIMUM)
    },
    **{
        (code, "waiting_list_offer_minutes"): f"Please enter {OFFER_MINUTES[0]} to {OFFER_MINUTES[1]} minutes "
        f"({OFFER_MINUTES[1] // (24 * 60)} days) for the offer time"
        for code in (ErrorCode.BELOW_MINIMUM, ErrorCode.ABOVE_MAXIMUM)
    },
    (ErrorCode.REQUIRED, "url"): "Please enter the address to post the events to",
    (ErrorCode.INVALID_FORMAT, "url"): "Please enter a full web address, such as https://example.com/hooks",
    (ErrorCode.HTTPS_REQUIRED, "url"): "Please enter an https:// address: events are only sent encrypted",
    (ErrorCode.FORBIDDEN_ADDRESS, "url"): "Please enter an address on the public internet: "
    "private and local addresses are not allowed",
    (ErrorCode.REQUIRED, "event_types"): "Please choose at least one event to send",
    (ErrorCode.INVALID_CHOICE, "event_types"): "Please choose among the events offered",
    (ErrorCode.TIER_BOUNDS, "price_tiers"): "Every tier but the last needs a last ticket number or an end date, "
    "and the last tier needs neither",
    (ErrorCode.REQUIRED, "price_tiers"): "Please enter at least one price tier",
    (ErrorCode.NOT_APPLICABLE, "price_tiers"): "Only tiered pricing has price tiers",
    (ErrorCode.BELOW_MINIMUM, "suggested_price_cents"): "The suggested price must be at least the minimum price",
    (ErrorCode.BELOW_MINIMUM, "quantity"): "Please enter at least {minimum} tickets: that many are sold or held",
    (ErrorCode.ABOVE_MAXIMUM, "amount_cents"): "Please enter at most {remaining}: that much is not refunded yet",
    (ErrorCode.REQUIRED, "code"): "Please enter a code, or a number of codes to generate (not both)",
    (ErrorCode.INVALID_FORMAT, "code"): "Please use 3 to 64 letters, digits, '-' or '_' for the code, "
    "starting with a letter or digit",
    (ErrorCode.CONFLICT_WITH, "code"): "This event already has a voucher with this code (in any case)",
    (ErrorCode.INVALID_FORMAT, "prefix"): "Please use up to 20 letters, digits, '-' or '_' for the prefix",
    (ErrorCode.REQUIRED, "discount_kind"): "Please choose the kind of discount, or leave the discount empty",
    (ErrorCode.NOT_FOUND, "ticket_ids"): "Please choose among the event's ticket types",
    (ErrorCode.NOT_FOUND, "unlocks"): "Please choose among the event's ticket types",
    (ErrorCode.NOT_ORDERED, "valid_until"): "The end of validity must be after its start",
    (ErrorCode.ABOVE_MAXIMUM, "reserve"): "Please set aside at most {maximum} tickets (no more than the most uses)",
    (ErrorCode.CONFLICT_WITH, "reserve"): "Tickets are set aside of one ticket type: tick exactly one ticket type "
    "(to apply to or to unlock)",
    (ErrorCode.SOLD_OUT, "reserve"): "Only {available} tickets can be set aside: the public has no more left",
    (ErrorCode.BELOW_MINIMUM, "max_uses"): "Please enter at least {minimum} for the most uses",
    (ErrorCode.REQUIRED, "options"): "Please enter the options to choose from, one per line",
    (ErrorCode.CONFLICT_WITH, "options"): "Please offer each option once",
    (ErrorCode.NOT_APPLICABLE, "options"): "Only a question with choices has options: please leave them empty",
    (ErrorCode.CONFLICT_WITH, "condition_question"): "Please choose a question asked as often as this one (per "
    "order or per ticket) whose answer is a choice, yes or no, or a country",
    (ErrorCode.NOT_FOUND, "condition_question"): "Please choose one of this event's questions",
    (ErrorCode.CONFLICT_WITH, "kind"): "Another question is asked on this one's answers: keep a kind it can depend "
    "on (a choice, yes or no, or a country), or change that question first",
    (ErrorCode.CONFLICT_WITH, "scope"): "Another question is asked on this one's answers: ask this one as often as "
    "that one, or change that question first",
    (ErrorCode.INVALID_CHOICE, "options"): "Another question is asked on an option you removed: keep it, or change "
    "that question first",
    (ErrorCode.REQUIRED, "condition_question"): "Please choose the question this one depends on",
    (ErrorCode.REQUIRED, "condition_values"): "Please enter the answers this question depends on, one per line",
    (ErrorCode.INVALID_CHOICE, "condition_values"): "Please enter answers that question can have (for yes or no: "
    "yes or no; for a country: its two-letter code)",
}
_CONSOLE_GENERIC: dict[ErrorCode, str] = {
    ErrorCode.REQUIRED: "Please enter {what}",
    ErrorCode.TOO_LONG: "Please shorten {what} to {maximum} characters",
    ErrorCode.NOT_INTEGER: "Please enter {what} as a whole number",
    ErrorCode.INVALID_FORMAT: "Please check {what}: it could not be read",
    ErrorCode.INVALID_TYPE: "Please check {what}",
    ErrorCode.NO_TIMEZONE: "Please check {what}",
    ErrorCode.INVALID_CHOICE: "Please choose one of the options offered for {what}",
    ErrorCode.BELOW_MINIMUM: "Please enter at least {minimum} for {what}",
    ErrorCode.ABOVE_MAXIMUM: "Please enter at most {maximum} for {what}",
    ErrorCode.NOT_APPLICABLE: "Please leave {what} empty: it does not apply to this pricing",
    ErrorCode.NOT_ORDERED: "Please check {what}: it must come after the one before it",
    ErrorCode.NOT_FOUND: "Please choose among the options offered for {what}",
    ErrorCode.OVER_LIMIT: "Please choose at most {maximum} for {what}",
    ErrorCode.TIER_BOUNDS: "Please check {what}: every tier but the last needs an end",
}


class _Quoted(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def say_field(
    code: ErrorCode,
    field: str,
    amounts: Mapping[str, int] | tuple[tuple[str, int], ...] = (),
    *,
    currency: str = "usd",
) -> str:
    """The sentence for ``code`` on a console field (amounts ``*_cents`` quoted as money in ``currency``)."""
    kind = field_kind(field)
    template = WORDS.get((code, kind)) or CONSOLE_WORDS.get((code, kind))
    if template is None and kind in WHAT:
        template = _CONSOLE_GENERIC.get(code)
    if template is None:
        return say(code, field, amounts=amounts, currency=currency)
    quoted = _Quoted(what=WHAT.get(kind, kind.replace("_", " ")))
    for name, value in dict(amounts).items():
        if name.endswith("_cents"):
            quoted[name.removesuffix("_cents")] = money.format_money(value, currency)
        else:
            quoted[name] = str(value)
    return template.format_map(quoted)
