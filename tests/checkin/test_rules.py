"""The pure rules of a scan: which refusal wins, the list's ticket types and window, digests, who reaches what."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from boxoffice.checkin.rules import REFUSALS, ListRules, Result, Scanner, code_digest, refusal, ticket_refusal
from boxoffice.errors import ErrorCode
from boxoffice.ticketing.models import OrderStatus

T0 = datetime(2027, 5, 1, 18, 0, tzinfo=UTC)
EVERYTHING = ListRules.of(True, [], None, None)


def test_every_refusal_is_an_error_code() -> None:
    assert {r.error_code for r in REFUSALS} <= set(ErrorCode)
    assert Result.OK not in REFUSALS


def test_ticket_states() -> None:
    assert ticket_refusal("valid", OrderStatus.CONFIRMED) is None
    assert ticket_refusal("valid", OrderStatus.PARTIALLY_REFUNDED) is None
    assert ticket_refusal("void", OrderStatus.REFUNDED) is Result.REFUNDED
    assert ticket_refusal("void", OrderStatus.CANCELED) is Result.CANCELED
    assert ticket_refusal("void", OrderStatus.CONFIRMED) is Result.CANCELED  # a ticket voided on its own
    for status in (OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED):
        assert ticket_refusal("valid", status) is Result.NOT_PAID


def test_window_bounds() -> None:
    window = ListRules.of(True, [], T0, T0 + timedelta(hours=4))
    assert not window.open_at(T0 - timedelta(seconds=1))
    assert window.open_at(T0)
    assert window.open_at(T0 + timedelta(hours=4) - timedelta(microseconds=1))
    assert not window.open_at(T0 + timedelta(hours=4))
    assert ListRules.of(True, [], None, T0).open_at(T0 - timedelta(days=300))
    assert ListRules.of(True, [], T0, None).open_at(T0 + timedelta(days=300))


def test_ticket_types() -> None:
    assert EVERYTHING.admits_type("tt_any")
    vip = ListRules.of(False, ["tt_vip"], None, None)
    assert vip.admits_type("tt_vip") and not vip.admits_type("tt_ga")


@given(
    replaced=st.booleans(),
    order=st.sampled_from(list(OrderStatus)),
    void=st.booleans(),
    on_list=st.booleans(),
    in_window=st.booleans(),
)
def test_the_first_refusal_that_applies_wins(
    replaced: bool, order: OrderStatus, void: bool, on_list: bool, in_window: bool
) -> None:
    rules = ListRules.of(False, ["tt_a"] if on_list else ["tt_b"], T0 if not in_window else None, None)
    at = T0 - timedelta(minutes=1)
    got = refusal(
        rules,
        ticket_status="void" if void else "valid",
        order_status=order,
        ticket_type_id="tt_a",
        code_version=0,
        current_version=1 if replaced else 0,
        at=at,
    )
    expected = (
        Result.REPLACED
        if replaced
        else ticket_refusal("void" if void else "valid", order)
        or (None if on_list else Result.NOT_ON_LIST)
        or (None if in_window else Result.OUTSIDE_WINDOW)
    )
    assert got is expected


def test_a_hand_check_in_has_no_code_version() -> None:
    got = refusal(
        EVERYTHING,
        ticket_status="valid",
        order_status=OrderStatus.CONFIRMED,
        ticket_type_id="tt",
        code_version=None,
        current_version=3,
        at=T0,
    )
    assert got is None


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=80))
def test_the_digest_is_the_sha256_of_the_code(code: str) -> None:
    assert code_digest(code) == hashlib.sha256(code.encode()).hexdigest()


def test_who_reaches_what() -> None:
    organizer = Scanner(organizer_id="per_a", can_undo=True, can_manage=True)
    device = Scanner(organizer_id="per_a", event_id="ev_1", list_id="cl_1", device_id="dev_1")
    assert organizer.reaches(organizer_id="per_a", event_id="ev_2", list_id="cl_9")
    assert not organizer.reaches(organizer_id="per_b", event_id="ev_1", list_id="cl_1")
    assert device.reaches(organizer_id="per_a", event_id="ev_1", list_id="cl_1")
    assert not device.reaches(organizer_id="per_a", event_id="ev_1", list_id="cl_2")
    assert not device.reaches(organizer_id="per_a", event_id="ev_2", list_id="cl_1")
    assert not device.can_undo and not device.can_manage
