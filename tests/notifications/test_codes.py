"""Signed ticket codes: genuine codes verify, anything else is rejected."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxoffice.notifications.codes import (
    InvalidTicketCode,
    read_ticket_code,
    sign_ticket_code,
    ticket_code,
    verify_ticket_code,
)

SECRET = b"codes-test-secret"
TICKET = "tkt_0123456789abcdef0123"


def test_roundtrip_and_shape() -> None:
    code = sign_ticket_code(TICKET, SECRET)
    assert verify_ticket_code(code, SECRET) == TICKET
    assert re.fullmatch(rf"{TICKET}\.[A-Z2-7]{{32}}", code)  # 20 bytes of HMAC in unpadded base32
    assert sign_ticket_code(TICKET, SECRET) == code  # deterministic
    assert sign_ticket_code("tkt_other", SECRET) != code


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: "tkt_1123456789abcdef0123" + c[len(TICKET) :],  # another ticket id, same signature
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # signature changed
        lambda c: c[:-1],  # signature truncated
        lambda c: c + "A",  # signature extended
        lambda c: c.lower(),  # case changed
        lambda c: c.replace(".", ":"),  # separator changed
        lambda c: c + "\n",  # trailing junk
        lambda c: " " + c,  # leading junk
        lambda c: c.split(".")[0],  # id alone
        lambda c: "." + c.split(".")[1],  # signature alone
    ],
)
def test_altered_codes_are_rejected(tamper: object) -> None:
    code = sign_ticket_code(TICKET, SECRET)
    assert callable(tamper)
    altered = tamper(code)
    assert altered != code
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(altered, SECRET)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(sign_ticket_code(TICKET, SECRET), b"another-secret")


@pytest.mark.parametrize(
    "garbage", ["", ".", "x.", ".x", "garbage", "tkt_1.AAAA", "é" * 40, "tkt_1." + "A" * 32, "a" * 10_000, "\ud800.x"]
)
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(garbage, SECRET)


def test_forged_code_with_a_guessed_signature_is_rejected() -> None:
    # A forger who knows the format but not the secret.
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(f"{TICKET}.{'A' * 32}", SECRET)


@pytest.mark.parametrize("bad_id", ["", "has.dot", "has space", "é", "x" * 129])
def test_unsignable_ids(bad_id: str) -> None:
    with pytest.raises(ValueError):
        sign_ticket_code(bad_id, SECRET)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_ticket_code(TICKET, b"")


@given(
    position=st.integers(min_value=0, max_value=200),
    replacement=st.characters(codec="utf-8"),
)
def test_any_single_character_change_is_detected(position: int, replacement: str) -> None:
    code = sign_ticket_code(TICKET, SECRET)
    i = position % len(code)
    altered = code[:i] + replacement + code[i + 1 :]
    if altered == code:
        return
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(altered, SECRET)


@given(ticket_id=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), secret=st.binary(min_size=1, max_size=64))
def test_roundtrip_for_any_id_and_secret(ticket_id: str, secret: bytes) -> None:
    assert verify_ticket_code(sign_ticket_code(ticket_id, secret), secret) == ticket_id


@given(position=st.integers(min_value=0, max_value=200), inserted=st.characters(codec="utf-8"))
def test_any_single_insertion_or_deletion_is_detected(position: int, inserted: str) -> None:
    code = sign_ticket_code(TICKET, SECRET)
    i = position % (len(code) + 1)
    for altered in (code[:i] + inserted + code[i:], code[:i] + code[i + 1 :]):
        if altered == code:
            continue
        with pytest.raises(InvalidTicketCode):
            verify_ticket_code(altered, SECRET)


def test_code_versions() -> None:
    """Version 0 is the code issued before versions existed; a later version is another code, and reads back with its
    version so that the caller can refuse a replaced one."""
    assert ticket_code(TICKET, 0, SECRET) == sign_ticket_code(TICKET, SECRET)
    assert read_ticket_code(sign_ticket_code(TICKET, SECRET), SECRET) == (TICKET, 0)
    second = ticket_code(TICKET, 2, SECRET)
    assert second != ticket_code(TICKET, 1, SECRET) != sign_ticket_code(TICKET, SECRET)
    assert read_ticket_code(second, SECRET) == (TICKET, 2)
    assert read_ticket_code(second, b"new key", [SECRET]) == (TICKET, 2)
    with pytest.raises(ValueError):
        ticket_code(TICKET, -1, SECRET)


@pytest.mark.parametrize("signed", [f"{TICKET}~", f"{TICKET}~01", f"{TICKET}~x", "~3", f"{TICKET}~1234567890"])
def test_malformed_versions_are_rejected(signed: str) -> None:
    with pytest.raises(InvalidTicketCode):
        read_ticket_code(sign_ticket_code(signed, SECRET), SECRET)


def test_a_version_cannot_be_moved_to_another_code() -> None:
    _, mac = ticket_code(TICKET, 1, SECRET).rsplit(".", 1)
    with pytest.raises(InvalidTicketCode):
        read_ticket_code(f"{TICKET}~2.{mac}", SECRET)
