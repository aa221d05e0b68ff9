"""A buyer's address is normalized as email-validator normalizes it, whether or not the plain-address shortcut
(``people._plain``) takes it: whatever the shortcut takes, email-validator accepts and normalizes the same way."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxoffice.errors import InvalidInput
from boxoffice.events import people
from boxoffice.events.people import normalize_email

MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_the_library(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


# drawn from the shortcut's own pattern (its lookahead left out: the full pattern then decides), from realistic
# addresses, and from an alphabet of the characters near its edges
_DRAWN = people._PLAIN_ADDRESS.pattern.replace("(?=[^@]{1,64}@)", "")
candidates = st.one_of(
    st.from_regex(_DRAWN, fullmatch=True),
    st.emails(),
    st.text(alphabet=st.sampled_from("aZ09._+-@\"'() éА"), min_size=3, max_size=24),
    st.builds(
        lambda local, labels, top: f"{local}@{'.'.join(labels)}.{top}",
        st.text(alphabet=st.sampled_from("ab.+_-"), min_size=1, max_size=70),
        st.lists(st.text(alphabet=st.sampled_from("ab0-"), min_size=1, max_size=65), min_size=1, max_size=3),
        st.sampled_from(["com", "test", "LOCALHOST", "onion", "c0", "x", "Org", "arpa", "invalid", "local"]),
    ),
)


@MANY
@given(candidates)
def test_what_the_shortcut_takes_the_library_accepts_and_normalizes_the_same(address: str) -> None:
    expected = by_the_library(address)
    if people._plain(address):
        assert expected is not None, address
        assert address.lower() == expected
    if expected is None:
        with pytest.raises(InvalidInput):
            normalize_email(address)
    else:
        assert normalize_email(address) == expected


@pytest.mark.parametrize(
    ("address", "plain", "normalized"),
    [
        ("Ana.Bell+tickets@Mail.Example.COM", True, "ana.bell+tickets@mail.example.com"),
        ("o_k-1@a-b.example.org", True, "o_k-1@a-b.example.org"),
        ("ana@example.test", False, None),
        ("ana@box.LocalHost", False, None),
        ("ana@ab--c.com", False, None),
        ("a..b@example.com", False, None),
        (".a@example.com", False, None),
        ("ana@example.c0", False, None),
        ("ana@-example.com", False, None),
        ("o'neil@example.com", False, "o'neil@example.com"),
        ("Zoë@Example.com", False, "zoë@example.com"),
        ("ana@Bücher.example", False, "ana@bücher.example"),
        ("x" * 65 + "@example.com", False, "x" * 65 + "@example.com"),  # the library allows it,
    ],
)
def test_addresses_inside_and_outside_the_shortcut(address: str, plain: bool, normalized: str | None) -> None:
    assert people._plain(address) is plain
    assert by_the_library(address) == normalized
    if normalized is None:
        with pytest.raises(InvalidInput):
            normalize_email(address)
    else:
        assert normalize_email(address) == normalized


def test_a_domain_added_to_the_librarys_special_use_list_is_left_to_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import email_validator

    monkeypatch.setattr(
        email_validator, "SPECIAL_USE_DOMAIN_NAMES", [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "corp"]
    )
    assert not people._plain("ana@mail.corp")
    assert people._plain("ana@mail.corporate")
