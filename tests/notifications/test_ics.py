"""The calendar file on its own: RFC 5545 lines, folding, escaping, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from boxoffice.notifications.ics import build_ics, escape_text, fold_line

START = datetime(2027, 7, 1, 19, 30, tzinfo=timezone(timedelta(hours=2)))  # 17:30 UTC


def unfold(ics: str) -> list[str]:
    return ics.replace("\r\n ", "").split("\r\n")


def calendar(**overrides: object) -> str:
    values: dict[str, object] = {
        "uid": "evt_1@boxoffice",
        "title": "Jazz, blues; and \\ more",
        "description": "Line one\nLine two\r\nLine three",
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "timezone": "Europe/Paris",
        "url": "https://tickets.example.com/orders/ord_1?token=abc",
        "organizer_name": 'Club "Le Caveau", Paris',
        "organizer_email": "club@example.com",
        "stamp": datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    values.update(overrides)
    return build_ics(**values)  # type: ignore[arg-type]


def test_structure_and_utc_times() -> None:
    ics = calendar()
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")
    lines = unfold(ics)[:-1]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    for expected in (
        "VERSION:2.0",
        "PRODID:-//Boxoffice//Tickets//EN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "UID:evt_1@boxoffice",
        "DTSTAMP:20270102T030405Z",
        "DTSTART:20270701T173000Z",
        "DTEND:20270701T203000Z",
        "X-WR-TIMEZONE:Europe/Paris",
        "URL:https://tickets.example.com/orders/ord_1?token=abc",
    ):
        assert expected in lines
    assert lines.index("BEGIN:VEVENT") < lines.index("DTSTART:20270701T173000Z") < lines.index("END:VEVENT")


def test_text_is_escaped() -> None:
    lines = unfold(calendar())
    assert "SUMMARY:Jazz\\, blues\\; and \\\\ more" in lines
    assert "DESCRIPTION:Line one\\nLine two\\nLine three" in lines
    assert "ORGANIZER;CN=\"Club 'Le Caveau', Paris\":mailto:club@example.com" in lines
    assert escape_text("a\x00b\x1bc\td") == "abc\td"


def test_long_lines_fold_at_75_octets_without_splitting_characters() -> None:
    title = "Große Nacht der Musik \u2013 " * 12 + "🎷" * 30
    ics = calendar(title=title, description="x" * 500)
    raw = ics.encode("utf-8")
    physical = raw.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) == 75
    assert all(len(line) <= 75 for line in physical)
    for line in physical:
        line.decode("utf-8")  # every physical line is valid UTF-8 on its own
    assert f"SUMMARY:{title}" in unfold(ics)
    assert f"DESCRIPTION:{'x' * 500}" in unfold(ics)
    assert fold_line("A" * 75) == ["A" * 75]
    assert fold_line("A" * 76) == ["A" * 75, " A"]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        calendar(starts_at=datetime(2027, 7, 1, 19, 30))  # naive
    with pytest.raises(ValueError):
        calendar(ends_at=START - timedelta(minutes=1))
    with pytest.raises(KeyError):  # ZoneInfoNotFoundError
        calendar(timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        calendar(url="https://example.com/a b")


def test_instant_event_has_no_dtend() -> None:
    lines = unfold(calendar(ends_at=START))
    assert "DTSTART:20270701T173000Z" in lines and not any(line.startswith("DTEND") for line in lines)


def test_stamp_defaults_to_now() -> None:
    (stamp,) = [line for line in unfold(calendar(stamp=None)) if line.startswith("DTSTAMP:")]
    parsed = datetime.strptime(stamp, "DTSTAMP:%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=1)
