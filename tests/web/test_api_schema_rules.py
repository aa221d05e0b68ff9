"""The string rules the OpenAPI schema states are the rules the server applies: every value a pattern admits is one
the server's own checks accept (email-validator, str.strip, the name check), and the patterns mean the same in
Python as in the JSON Schema validator (ECMA-262)."""

from __future__ import annotations

from collections.abc import Mapping

import jsonschema_rs
import pytest
from email_validator import validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from boxoffice.errors import InvalidInput
from boxoffice.events.service import clean_name, normalize_email
from boxoffice.web.api import fields as f
from boxoffice.web.api import schemas as s

FAST = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def schema_says(schema: Mapping[str, object], value: object) -> bool:
    return bool(jsonschema_rs.validator_for(dict(schema), validate_formats=True).is_valid(value))


# Hypothesis draws from a regular expression without its lookaheads; the full pattern then filters the draws.
_RELAXED = (
    f.EMAIL_PATTERN.replace("(?=[^@]{1,64}@)", "").replace(f._NOT_SPECIAL, "").replace("(?![A-Za-z0-9-]{2}--)", "")
)
_EMAIL = f.python_pattern(f.EMAIL_PATTERN)
ADDRESSES = st.one_of(st.from_regex(f.python_pattern(_RELAXED)), st.emails()).filter(
    lambda v: len(v) <= f.EMAIL_MAX and bool(_EMAIL.search(v))
)


@FAST
@given(ADDRESSES)
def test_every_address_the_pattern_admits_is_one_email_validator_accepts(address: str) -> None:
    validate_email(address, check_deliverability=False)
    normalize_email(address)
    assert schema_says({"type": "string", "pattern": f.EMAIL_PATTERN}, address)
    s.OrderCreate.model_validate({"email": address, "lines": [{"ticket_id": "tt_1", "quantity": 1}]})


@pytest.mark.parametrize(
    "address",
    [
        "000",
        "a@b",
        "a@b.test",
        "a@x.LOCALHOST",
        "a..b@example.com",
        "a@ab--c.com",
        "a@-a.com",
        " a@example.com",
        "a@example.com\n",
        "a@example.c0",
    ],
)
def test_addresses_the_server_refuses_are_outside_the_pattern(address: str) -> None:
    assert not schema_says({"type": "string", "pattern": f.EMAIL_PATTERN}, address)
    with pytest.raises(ValidationError):
        s.OrderCreate.model_validate({"email": address, "lines": [{"ticket_id": "tt_1", "quantity": 1}]})


@pytest.mark.parametrize("address", ["Zoë@example.com", "Ünal.O'Neil+tickets@mail.example.org", "Жанна@example.com"])
def test_international_addresses_stay_accepted(address: str) -> None:
    s.OrderCreate.model_validate({"email": address, "lines": [{"ticket_id": "tt_1", "quantity": 1}]})
    assert schema_says({"type": "string", "format": "idn-email", "pattern": f.EMAIL_PATTERN}, address)


@FAST
@given(st.text(max_size=12) | st.text(alphabet=st.sampled_from(" \t\x00\x1ca\u3000"), max_size=5))
def test_the_title_pattern_is_the_servers_not_blank_and_no_nul(title: str) -> None:
    accepted = bool(title.strip()) and "\x00" not in title
    assert bool(f.python_pattern(f.TEXT_PATTERN).search(title)) == accepted
    assert schema_says({"type": "string", "pattern": f.TEXT_PATTERN}, title) == accepted


@FAST
@given(st.text(alphabet=st.sampled_from("ab \t\n\x01\x1f\x1c\x85\u3000\u2028\x7f"), max_size=8) | st.text(max_size=8))
def test_the_name_pattern_is_the_servers_name_check(name: str) -> None:
    try:
        clean_name(name)
        accepted = True
    except InvalidInput:
        accepted = False
    assert bool(f.python_pattern(f.NAME_PATTERN).search(name)) == accepted
    assert schema_says({"type": "string", "pattern": f.NAME_PATTERN}, name) == accepted


def test_white_space_is_what_str_strip_strips() -> None:
    spaces = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    blank = f.python_pattern(f"^[{f.WHITESPACE}]*$")
    assert blank.search(spaces)
    assert not any(blank.search(chr(c)) for c in range(0x3001) if not chr(c).isspace())


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2027-03-01T19:00:00Z", True),
        ("2027-03-01T19:00:00.123456789+05:30", True),
        ("0002-01-01T00:00:00+23:59", True),
        ("9998-12-31T23:59:59-23:59", True),
        (0, False),
        (1_800_000_000, False),
        ("2027-03-01T19:00:00", False),  # naive
        ("2027-03-01 19:00:00Z", False),
        ("2027-03-01t19:00:00z", False),
        ("2027-02-30T19:00:00Z", False),
        ("0001-01-01T00:00:00+01:00", False),  # its UTC instant would be in year 0
        ("2027-03-01T19:00:00Z\n", False),
    ],
)
def test_date_times_are_rfc_3339_strings_with_an_offset(value: object, ok: bool) -> None:
    """A ticket type's sales window takes instants only (an event's own times also take wall-clock times: below)."""
    schema = {"type": "string", "format": "date-time", "pattern": f.DATE_TIME_PATTERN}
    assert schema_says(schema, value) == ok
    if ok:
        starts_at = s.TicketFields.model_validate({"starts_at": value}).starts_at
        assert starts_at is not None and starts_at.tzinfo
    else:
        with pytest.raises(ValidationError) as caught:
            s.TicketFields.model_validate({"starts_at": value})
        assert caught.value.errors()[0]["loc"] == ("starts_at",)


@pytest.mark.parametrize(
    ("value", "ok", "aware"),
    [
        ("2027-03-01T19:00:00Z", True, True),
        ("2027-03-01T19:00:00.5+05:30", True, True),
        ("2027-03-01T19:00:00", True, False),  # a wall-clock time, read in the event's time zone
        ("2027-03-01T19:00:00.250", True, False),
        ("2027-03-01T19:00", False, False),
        ("2027-03-01 19:00:00", False, False),
        ("2027-02-30T19:00:00", False, False),
        (1_800_000_000, False, False),
        ("2027-03-01T19:00:00\n", False, False),
    ],
)
def test_an_events_times_are_rfc_3339_with_or_without_an_offset(value: object, ok: bool, aware: bool) -> None:
    schema = {"type": "string", "pattern": f.LOCAL_DATE_TIME_PATTERN}
    body = {"title": "Gala", "starts_at": value, "ends_at": "2027-03-02T19:00:00Z", "timezone": "Europe/Berlin"}
    if isinstance(value, str) and value != "2027-02-30T19:00:00":
        assert schema_says(schema, value) == ok
    if ok:
        starts_at = s.EventCreate.model_validate(body).starts_at
        assert (starts_at.tzinfo is not None) == aware
    else:
        with pytest.raises(ValidationError) as caught:
            s.EventCreate.model_validate(body)
        assert caught.value.errors()[0]["loc"] == ("starts_at",)


@pytest.mark.parametrize(("value", "ok"), [(3, True), (3.0, True), (3.5, False), (True, False), ("3", False)])
def test_an_integral_number_is_an_integer_whatever_its_spelling(value: object, ok: bool) -> None:
    assert schema_says({"type": "integer"}, value) == ok
    if ok:
        parsed = s.TicketCreate.model_validate({"title": "A", "quantity": value, "base_price_cents": value})
        assert parsed.quantity == 3 and type(parsed.quantity) is int
        assert parsed.base_price_cents == 3 and type(parsed.base_price_cents) is int
    else:
        with pytest.raises(ValidationError):
            s.TicketCreate.model_validate({"title": "A", "quantity": value, "base_price_cents": 1})


def test_money_stays_exact_at_the_largest_amount() -> None:
    parsed = s.RefundIn.model_validate({"amount_cents": 99_999_999.0})
    assert parsed.amount_cents == 99_999_999 and type(parsed.amount_cents) is int
    with pytest.raises(ValidationError):
        s.RefundIn.model_validate({"amount_cents": 99_999_998.5})
    with pytest.raises(ValidationError):
        s.RefundIn.model_validate({"amount_cents": 1e300})


def test_time_zones_and_currencies_are_enums_the_server_enforces() -> None:
    zones = s.EventCreate.model_json_schema()["properties"]["timezone"]["enum"]
    assert "Europe/Berlin" in zones and "UTC" in zones and "0" not in zones
    with pytest.raises(ValidationError):
        s.EventPatch.model_validate({"timezone": "0"})
    currencies = s.TicketCreate.model_json_schema()["properties"]["currency"]["enum"]
    assert {"usd", "USD", "jpy"} <= set(currencies) and "000" not in currencies
    with pytest.raises(ValidationError):
        s.TicketFields.model_validate({"currency": "000"})


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"title": "A", "quantity": 1}, False),  # fixed (the default) without a price
        ({"title": "A", "quantity": 1, "base_price_cents": 100}, True),
        ({"title": "A", "quantity": 1, "price_cents": 100}, True),
        ({"title": "A", "quantity": 1, "pricing_model": "flexible"}, True),
        ({"title": "A", "quantity": 1, "pricing_model": "dynamic"}, False),  # no tiers
        ({"title": "A", "quantity": 1, "pricing_model": "dynamic", "price_tiers": [{"price_cents": 1}]}, True),
        ({"title": "A", "quantity": 1, "base_price_cents": 1, "price_tiers": [{"price_cents": 1}]}, False),
        ({"title": "A", "quantity": 1, "pricing_model": "flexible", "price_cents": 5}, False),
        ({"title": "A", "quantity": 1, "base_price_cents": 1, "currency": None}, False),
    ],
)
def test_the_pricing_models_required_fields_are_in_the_schema(body: dict[str, object], valid: bool) -> None:
    schema = s.TicketCreate.model_json_schema()
    assert schema_says(schema, body) == valid
