"""The accounts' pure rules: what each role may do, the throttling window, new passwords, one-time link secrets,
and where the console may send a browser after sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxoffice.accounts.passwords import MAX_PASSWORD, MIN_PASSWORD, check_new_password
from boxoffice.accounts.roles import PERMISSIONS, Action, Role, parse_role, roles_permitted
from boxoffice.accounts.throttle import ThrottleRule, account_key
from boxoffice.accounts.users import digest, link_secret
from boxoffice.errors import ErrorCode, InvalidInput
from boxoffice.web.console.access import safe_next

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_owner_may_do_everything_manager_runs_events_door_checks_in() -> None:
    assert all(Role.OWNER.permits(action) for action in Action)
    manager = {a for a in Action if Role.MANAGER.permits(a)}
    assert manager == {
        Action.VIEW_EVENTS,
        Action.MANAGE_EVENTS,
        Action.MANAGE_ORDERS,
        Action.REFUND,
        Action.EXPORT,
        Action.CHECK_IN,
        Action.MANAGE_WEBHOOKS,
    }
    assert {a for a in Action if Role.DOOR.permits(a)} == {Action.VIEW_EVENTS, Action.CHECK_IN}


@pytest.mark.parametrize(
    ("action", "roles"),
    [
        (Action.MANAGE_TEAM, (Role.OWNER,)),
        (Action.MANAGE_API_KEYS, (Role.OWNER,)),
        (Action.REFUND, (Role.OWNER, Role.MANAGER)),
        (Action.MANAGE_WEBHOOKS, (Role.OWNER, Role.MANAGER)),
        (Action.CHECK_IN, (Role.OWNER, Role.MANAGER, Role.DOOR)),
    ],
)
def test_roles_permitted_lists_exactly_the_roles_that_may(action: Action, roles: tuple[Role, ...]) -> None:
    assert roles_permitted(action) == roles


def test_every_role_has_a_rule_and_a_wider_role_keeps_what_a_narrower_one_may() -> None:
    assert set(PERMISSIONS) == set(Role)
    assert PERMISSIONS[Role.DOOR] < PERMISSIONS[Role.MANAGER] < PERMISSIONS[Role.OWNER]


def test_parse_role() -> None:
    assert parse_role(" Manager ") is Role.MANAGER
    assert parse_role("door") is Role.DOOR
    assert parse_role("admin") is None and parse_role("") is None


def test_a_key_is_throttled_from_the_nth_failure_until_its_window_ends() -> None:
    rule = ThrottleRule(max_failures=5, window=timedelta(minutes=15))
    assert rule.wait(4, T0, T0 + timedelta(minutes=1)) == 0
    assert rule.wait(5, T0, T0 + timedelta(minutes=1)) == 14 * 60
    assert rule.wait(50, T0, T0 + timedelta(minutes=14, seconds=59, microseconds=1)) == 1  # rounded up, never 0
    assert rule.wait(5, T0, T0 + timedelta(minutes=15)) == 0  # the window is over
    assert not rule.restarts(T0, T0 + timedelta(minutes=14, seconds=59))
    assert rule.restarts(T0, T0 + timedelta(minutes=15))


def test_a_rule_of_zero_failures_throttles_nothing() -> None:
    assert ThrottleRule(0, timedelta(minutes=15)).wait(1000, T0, T0) == 0


@given(failures=st.integers(0, 100), elapsed=st.integers(0, 3600))
def test_the_wait_never_outlasts_the_window(failures: int, elapsed: int) -> None:
    rule = ThrottleRule(5, timedelta(minutes=15))
    wait = rule.wait(failures, T0, T0 + timedelta(seconds=elapsed))
    assert 0 <= wait <= 900
    assert (wait > 0) == (failures >= 5 and elapsed < 900)


def test_account_keys_are_keyed_hashes_of_the_email() -> None:
    a = account_key(b"secret-one", "ada@example.com")
    assert a == account_key(b"secret-one", "ada@example.com") and a.startswith("account:")
    assert "ada" not in a
    assert a != account_key(b"secret-two", "ada@example.com") != account_key(b"secret-one", "bob@example.com")


def _code(password: str) -> ErrorCode:
    with pytest.raises(InvalidInput) as caught:
        check_new_password(password)
    (error,) = caught.value.errors
    assert error.field == "password"
    return error.code


def test_new_password_rules() -> None:
    assert check_new_password("a" * MIN_PASSWORD) == "a" * MIN_PASSWORD
    assert check_new_password("four words make one") == "four words make one"
    assert _code("") == ErrorCode.REQUIRED
    assert _code("a" * (MIN_PASSWORD - 1)) == ErrorCode.TOO_SHORT
    assert _code("a" * (MAX_PASSWORD + 1)) == ErrorCode.TOO_LONG
    assert _code("good password\x00") == ErrorCode.INVALID_FORMAT


def test_link_secrets_are_derived_from_the_token_id_and_the_server_key() -> None:
    one = link_secret(b"k1", "tok_1")
    assert one == link_secret(b"k1", "tok_1") and len(one) == 43  # 256 bits, URL-safe, no padding
    assert one not in (link_secret(b"k2", "tok_1"), link_secret(b"k1", "tok_2"))
    assert "=" not in one and "/" not in one and "+" not in one
    assert digest(one) != one and len(digest(one)) == 64  # what the database keeps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/manage/team", "/manage/team"),
        ("/manage/api-keys?done=revoked", "/manage/api-keys?done=revoked"),
        (None, "/manage"),
        ("", "/manage"),
        ("https://evil.example/manage", "/manage"),
        ("//evil.example/manage", "/manage"),
        ("/\\evil.example", "/manage"),
        ("/e/ev_1", "/manage"),
        ("/manage" + "x" * 600, "/manage"),
    ],
)
def test_after_sign_in_only_console_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
