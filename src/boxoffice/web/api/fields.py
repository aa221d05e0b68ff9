"""The rules of the API's request fields, as the OpenAPI schema states them and the server checks them: string
patterns (ECMA-262 syntax, anchored, searched as JSON Schema does), enums, integral numbers and RFC 3339 date-times.
The request and response bodies built from them are in ``web/api/schemas.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from boxoffice.events.rules import IMAGE_URL_PATTERN
from boxoffice.money import MAXIMUM_AMOUNT, SUPPORTED_CURRENCIES
from boxoffice.web.limits import API_LIMIT

# -- string rules --------------------------------------------------------------------------------------------------

# What Python's str.strip() strips (str.isspace()): a title of only these is empty, and a name is stripped of them.
WHITESPACE = r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# No U+0000 anywhere: PostgreSQL cannot store it in text (nor compare it with an id), so no request string has one.
NO_NUL_PATTERN = r"^[^\u0000]*$"
TEXT_PATTERN = rf"^[{WHITESPACE}]*[^{WHITESPACE}\u0000][^\u0000]*$"  # something besides white space, no U+0000
# Trimmed of white space, no control characters (U+0000 to U+001F) are left.
_NAME_END = rf"[^{WHITESPACE}\u0000-\u001f]"  # neither white space nor a control character
NAME_PATTERN = rf"^[{WHITESPACE}]*(?:{_NAME_END}(?:[^\u0000-\u001f]*{_NAME_END})?)?[{WHITESPACE}]*$"


def _any_case(word: str) -> str:
    return "".join(f"[{ch.upper()}{ch}]" for ch in word)


# The domains the email-validator library refuses as special-use (RFC 6761 and others).
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
# Letters beside ASCII in the part before the @ (Latin, Greek, Cyrillic: two bytes each in UTF-8).
_LETTERS = r"\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9\u0410-\u044f"
_ATOM = rf"[A-Za-z0-9!#\$%&'*+/=?^_`{{|}}~\-{_LETTERS}]+"
_LABEL = "(?![A-Za-z0-9-]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NOT_SPECIAL = f"(?!(?:{'|'.join(_any_case(d) for d in _SPECIAL_USE)})$)"
_TOP_LEVEL = _NOT_SPECIAL + "(?![A-Za-z0-9-]{2}--)[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z])?"
# A dot-atom of at most 64 characters before the @ and a domain name of ASCII labels (63 characters at most, no
# hyphen at either end, no "--" after the first two characters, a last label ending with a letter and not a
# special-use name) after it; with at most 190 characters in all, the address fits the 254 bytes of RFC 5321.
EMAIL_PATTERN = rf"^(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_TOP_LEVEL}$"
EMAIL_MAX = 190
# RFC 3339 with an offset, years 0002 to 9998 (the UTC instant of any offset stays within years 1 to 9999).
_YEAR = "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
DATE_TIME_PATTERN = (
    f"^{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)

# The same, with the offset optional: a wall-clock time in the event's time zone when it has none.
LOCAL_DATE_TIME_PATTERN = DATE_TIME_PATTERN.removesuffix(")$") + ")?$"


def python_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled ECMA-262 ``pattern``: searched, as JSON Schema does, with ``$`` at the very end of the text
    only (Python's ``$`` also matches before a final newline)."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


@dataclass(frozen=True)
class Matches:
    """A string rule: the value contains a match of ``pattern`` (stated in the schema, checked by the server)."""

    pattern: str
    message: str
    format: str | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        regex = python_pattern(self.pattern)
        message = self.message

        def check(value: str) -> str:
            if not regex.search(value):
                raise PydanticCustomError("string_pattern_mismatch", message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = self.pattern
        if self.format:
            out["format"] = self.format
        return out


@dataclass(frozen=True)
class OneOf:
    """A string rule: one of ``values`` (an ``enum`` in the schema)."""

    values: tuple[str, ...]
    message: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        allowed = frozenset(self.values)
        message = self.message

        def check(value: str) -> str:
            if value not in allowed:
                raise PydanticCustomError("enum", message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        out["enum"] = list(self.values)
        return out


def _integral(value: object) -> object:
    """An integral float (``3.0``) is the integer it equals, exactly, below 2**53; a fractional one stays a float
    and is refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


_DATE_TIME = python_pattern(DATE_TIME_PATTERN)


def _date_time(value: object) -> object:
    """Only an RFC 3339 string with an offset is a date-time (not a number of seconds, not a naive value)."""
    if isinstance(value, datetime):  # built in Python, not read from JSON
        return value
    if isinstance(value, str) and not _DATE_TIME.search(value) and _DATE_TIME.search(value + "Z"):
        # a date-time without its offset: said so (code no_timezone), not merely "not a date-time"
        raise PydanticCustomError("timezone_aware", "must include a UTC offset, such as 2027-03-01T19:00:00Z")
    if not isinstance(value, str) or not _DATE_TIME.search(value):
        raise PydanticCustomError(
            "datetime_format", "must be an RFC 3339 date-time with an offset, such as 2027-03-01T19:00:00Z"
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("datetime_format", "is not a date-time that exists") from None


_LOCAL_DATE_TIME = python_pattern(LOCAL_DATE_TIME_PATTERN)


def _event_date_time(value: object) -> object:
    """An RFC 3339 date-time, with an offset or without one (a wall-clock time, read in the event's time zone)."""
    if isinstance(value, datetime):  # built in Python, not read from JSON
        return value
    if not isinstance(value, str) or not _LOCAL_DATE_TIME.search(value):
        raise PydanticCustomError(
            "datetime_format",
            "must be an RFC 3339 date-time, such as 2027-03-01T19:00:00Z, or a local time such as 2027-03-01T19:00:00",
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("datetime_format", "is not a date-time that exists") from None


# The bounds go before the float-to-integer step, so that the schema says minimum and maximum.
Amount = Annotated[StrictInt, Field(ge=0, le=MAXIMUM_AMOUNT), BeforeValidator(_integral)]
PositiveAmount = Annotated[StrictInt, Field(ge=1, le=MAXIMUM_AMOUNT), BeforeValidator(_integral)]
Quantity = Annotated[StrictInt, Field(ge=1, le=1_000_000), BeforeValidator(_integral)]
PerOrder = Annotated[StrictInt, Field(ge=1, le=1000), BeforeValidator(_integral)]
Position = Annotated[StrictInt, Field(ge=-1000, le=1000), BeforeValidator(_integral)]
DateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_date_time),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}),
]
EventDateTime = Annotated[
    datetime,
    BeforeValidator(_event_date_time),
    WithJsonSchema({"type": "string", "pattern": LOCAL_DATE_TIME_PATTERN}),
]
NoNul = Matches(NO_NUL_PATTERN, "must not contain U+0000")
Title = Annotated[
    str, Field(min_length=1, max_length=200), Matches(TEXT_PATTERN, "must not be blank nor contain U+0000")
]
Description = Annotated[str, Field(max_length=20_000), NoNul]
TIME_ZONES = tuple(sorted(available_timezones()))  # what ZoneInfo finds on this server
TimeZone = Annotated[
    str,
    OneOf(TIME_ZONES, "must be an IANA time zone such as Europe/Berlin"),
    Field(description="An IANA time zone name (the server's time zone database)."),
]
CURRENCIES = tuple(sorted(SUPPORTED_CURRENCIES)) + tuple(sorted(c.upper() for c in SUPPORTED_CURRENCIES))
Currency = Annotated[
    str,
    OneOf(CURRENCIES, f"unsupported currency; use one of {', '.join(sorted(SUPPORTED_CURRENCIES))}"),
    Field(description="ISO 4217, lower or upper case; stored and answered in lower case."),
]
Email = Annotated[
    str,
    Field(max_length=EMAIL_MAX),
    Matches(EMAIL_PATTERN, "is not a valid email address", format="idn-email"),
]
Name = Annotated[str, Field(max_length=200), Matches(NAME_PATTERN, "must not contain control characters")]
# A venue's name: one line, no control characters (as a person's name). Its address: lines of text, no other control
# characters (a carriage return is a line break).
VenueName = Annotated[str, Field(max_length=200), Matches(NAME_PATTERN, "must not contain control characters")]
ADDRESS_PATTERN = r"^[^\u0000-\u0009\u000b\u000c\u000e-\u001f]*$"
VenueAddress = Annotated[
    str, Field(max_length=1000), Matches(ADDRESS_PATTERN, "must not contain control characters but line breaks")
]
IMAGE_URL_OR_EMPTY = "^(?:" + IMAGE_URL_PATTERN.removeprefix("^").removesuffix("$") + ")?$"
ImageUrl = Annotated[
    str,
    Field(max_length=2000),
    Matches(IMAGE_URL_OR_EMPTY, "must be an https URL, such as https://example.com/poster.jpg"),
]
BODY_LIMIT = f"The request body is at most {API_LIMIT} bytes (413 past that)."


EVENT_CURRENCY = (
    "The event's one currency (ISO 4217, lower or upper case): its ticket types are priced in it. Unset: the first "
    "ticket type's currency. Changeable only while the event has no ticket types (a rule against stored state, "
    "answered with 422)."
)
EventCurrency = Annotated[
    str,
    OneOf(CURRENCIES, f"unsupported currency; use one of {', '.join(sorted(SUPPORTED_CURRENCIES))}"),
    Field(description=EVENT_CURRENCY, examples=["eur"]),
]

HoldMinutes = Annotated[
    StrictInt,
    Field(ge=5, le=30, description="Minutes an order holds its tickets (5 to 30); unset: the server's hold."),
    BeforeValidator(_integral),
]
OfferMinutes = Annotated[
    StrictInt,
    Field(ge=10, le=7 * 24 * 60, description="Minutes a waiting-list offer holds its tickets (default 1440)."),
    BeforeValidator(_integral),
]
VoucherCode = Annotated[str, Field(min_length=1, max_length=64), NoNul]
