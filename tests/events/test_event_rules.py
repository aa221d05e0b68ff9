"""The rules of an event's fields (pure): wall-clock times read in the event's time zone, refused where the clocks
skip or repeat them; venue and image URL; the statuses and what a new event gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxoffice.errors import ErrorCode, InvalidInput
from boxoffice.events import times
from boxoffice.events.models import EVENT_STATUSES, Event
from boxoffice.events.rules import IMAGE_URL_PATTERN, EventInput, event_values, image_url
from boxoffice.web.api.fields import python_pattern

BERLIN = times.zone_named("Europe/Berlin")


def codes(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, ErrorCode]:
    return {e.field: e.code for e in exc.value.errors}


def new(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Gala",
        "starts_at": datetime(2027, 6, 12, 19),
        "ends_at": datetime(2027, 6, 12, 23),
    }
    return event_values(EventInput(**{**base, **fields}), None)


def stored(**fields: Any) -> Event:
    return Event(
        id="ev_1",
        organizer_id="per_1",
        title="Gala",
        description="",
        starts_at=fields.pop("starts_at", datetime(2027, 6, 12, 17, tzinfo=UTC)),
        ends_at=fields.pop("ends_at", datetime(2027, 6, 12, 21, tzinfo=UTC)),
        timezone=fields.pop("timezone", "Europe/Berlin"),
        status="published",
        venue_name="",
        venue_address="",
        **fields,
    )


def test_a_wall_clock_time_is_read_in_the_events_time_zone_and_stored_in_utc() -> None:
    values = new(timezone="Europe/Berlin")
    assert values["starts_at"] == datetime(2027, 6, 12, 17, tzinfo=UTC)  # CEST, UTC+2
    assert values["ends_at"] == datetime(2027, 6, 12, 21, tzinfo=UTC)
    winter = new(timezone="Europe/Berlin", starts_at=datetime(2027, 1, 9, 19), ends_at=datetime(2027, 1, 9, 23))
    assert winter["starts_at"] == datetime(2027, 1, 9, 18, tzinfo=UTC)  # CET, UTC+1
    assert values["timezone"] == "Europe/Berlin"


def test_an_instant_with_an_offset_is_kept_whatever_the_time_zone() -> None:
    offset = datetime(2027, 6, 12, 19, tzinfo=timezone(timedelta(hours=-4)))
    values = new(timezone="Europe/Berlin", starts_at=offset, ends_at=offset + timedelta(hours=3))
    assert values["starts_at"] == datetime(2027, 6, 12, 23, tzinfo=UTC)


def test_a_wall_clock_time_without_a_time_zone_is_refused_on_a_new_event() -> None:
    with pytest.raises(InvalidInput) as caught:
        new()
    assert codes(caught) == {"starts_at": ErrorCode.NO_TIMEZONE, "ends_at": ErrorCode.NO_TIMEZONE}


def test_a_change_reads_a_wall_clock_time_in_the_stored_time_zone_or_the_one_sent() -> None:
    event = stored(timezone="America/New_York")
    values = event_values(EventInput(starts_at=datetime(2027, 6, 12, 14)), event)
    assert values["starts_at"] == datetime(2027, 6, 12, 18, tzinfo=UTC)  # EDT, UTC-4
    values = event_values(EventInput(starts_at=datetime(2027, 6, 12, 14), timezone="Asia/Tokyo"), event)
    assert values["starts_at"] == datetime(2027, 6, 12, 5, tzinfo=UTC) and values["timezone"] == "Asia/Tokyo"
    # a time zone alone keeps the stored instants
    assert event_values(EventInput(timezone="Asia/Tokyo"), event) == {"timezone": "Asia/Tokyo"}


def test_the_hour_the_clocks_skip_does_not_exist() -> None:
    # 2027-03-28: Berlin's clocks go from 02:00 to 03:00
    with pytest.raises(InvalidInput) as caught:
        new(timezone="Europe/Berlin", starts_at=datetime(2027, 3, 28, 2, 30), ends_at=datetime(2027, 3, 28, 5))
    assert codes(caught) == {"starts_at": ErrorCode.NONEXISTENT_TIME}
    assert "does not exist in Europe/Berlin" in caught.value.errors[0].message
    # either side of the gap is fine
    values = new(timezone="Europe/Berlin", starts_at=datetime(2027, 3, 28, 1, 59), ends_at=datetime(2027, 3, 28, 3))
    assert values["starts_at"] == datetime(2027, 3, 28, 0, 59, tzinfo=UTC)
    assert values["ends_at"] == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_the_hour_the_clocks_repeat_happens_twice_and_needs_an_offset() -> None:
    # 2027-10-31: Berlin's clocks go from 03:00 back to 02:00
    with pytest.raises(InvalidInput) as caught:
        new(timezone="Europe/Berlin", starts_at=datetime(2027, 10, 30, 22), ends_at=datetime(2027, 10, 31, 2, 30))
    assert codes(caught) == {"ends_at": ErrorCode.AMBIGUOUS_TIME}
    message = caught.value.errors[0].message
    assert "2027-10-31T02:30:00+02:00" in message and "2027-10-31T02:30:00+01:00" in message
    # with an offset it is one instant
    second = datetime(2027, 10, 31, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    values = new(timezone="Europe/Berlin", starts_at=datetime(2027, 10, 30, 22), ends_at=second)
    assert values["ends_at"] == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31)))
def test_a_wall_clock_time_read_in_a_zone_is_that_time_there_or_refused(value: datetime) -> None:
    try:
        instant = times.to_utc(value, BERLIN, "starts_at")
    except InvalidInput as exc:
        assert exc.errors[0].code in (ErrorCode.NONEXISTENT_TIME, ErrorCode.AMBIGUOUS_TIME)
        return
    assert instant.tzinfo is UTC
    assert instant.astimezone(BERLIN).replace(tzinfo=None) == value


def test_an_unknown_time_zone_is_named_and_its_wall_clock_times_are_not_blamed() -> None:
    with pytest.raises(InvalidInput) as caught:
        new(timezone="Mars/Olympus_Mons")
    assert codes(caught) == {"timezone": ErrorCode.INVALID_FORMAT}
    for name in ("", " Europe/Berlin", "../etc/passwd"):
        with pytest.raises(InvalidInput):
            times.zone_named(name)


def test_venue_fields_are_trimmed_and_keep_the_addresses_lines() -> None:
    values = new(
        timezone="UTC", venue_name="  Rooftop Hall ", venue_address=" Alexanderplatz 1\r\n10178 Berlin\rGermany  "
    )
    assert values["venue_name"] == "Rooftop Hall"
    assert values["venue_address"] == "Alexanderplatz 1\n10178 Berlin\nGermany"
    with pytest.raises(InvalidInput) as caught:
        new(timezone="UTC", venue_name="Hall\nB", venue_address="x" * 1001)
    assert codes(caught) == {"venue_name": ErrorCode.INVALID_FORMAT, "venue_address": ErrorCode.TOO_LONG}
    with pytest.raises(InvalidInput) as caught:
        new(timezone="UTC", venue_address="Street 1\x07")
    assert codes(caught) == {"venue_address": ErrorCode.INVALID_FORMAT}


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://images.example.com/poster.jpg", "https://images.example.com/poster.jpg"),
        ("  HTTPS://cdn.example.org:8443/a/b.png?w=800#top ", "HTTPS://cdn.example.org:8443/a/b.png?w=800#top"),
        ("", None),
        ("   ", None),
    ],
)
def test_an_image_url_is_https_or_nothing(url: str, kept: str | None) -> None:
    assert image_url(url) == kept


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://user:pw@example.com/a.jpg",
        "https://example.com:99999/a.jpg",
        "https:///a.jpg",
        "https://exa mple.com/a.jpg",
        'https://example.com/a".jpg',
        "https://example.com/a<b>.jpg",
        "//example.com/a.jpg",
        "https://example.com/" + "a" * 2000,
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        image_url(url)
    assert caught.value.errors[0].code in (ErrorCode.INVALID_FORMAT, ErrorCode.TOO_LONG)
    assert not python_pattern(IMAGE_URL_PATTERN).search(url.strip()) or len(url) > 2000


def test_statuses_and_the_default_of_a_new_event() -> None:
    assert EVENT_STATUSES == ("draft", "published", "sales_paused", "canceled")
    assert new(timezone="UTC")["status"] == "published"  # as the API has always created them
    assert new(timezone="UTC", status="draft")["status"] == "draft"
    assert "status" not in event_values(EventInput(title="x"), stored())  # a change leaves it
    with pytest.raises(InvalidInput) as caught:
        new(timezone="UTC", status="hidden")
    assert codes(caught) == {"status": ErrorCode.INVALID_CHOICE}


def test_every_field_at_fault_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        event_values(
            EventInput(
                title=" ",
                starts_at=datetime(2027, 3, 28, 2, 30),
                ends_at=datetime(2027, 3, 28, 1, tzinfo=UTC),
                timezone="Europe/Berlin",
                status="live",
                image_url="ftp://x",
            ),
            None,
        )
    assert codes(caught) == {
        "title": ErrorCode.REQUIRED,
        "image_url": ErrorCode.INVALID_FORMAT,
        "starts_at": ErrorCode.NONEXISTENT_TIME,
        "status": ErrorCode.INVALID_CHOICE,
    }
