"""Stripe's bracket form encoding, decoded exactly as the SDK encodes it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from boxoffice.sandbox.forms import FormError, parse_form


def sdk_encode(params: dict[str, Any], *, literal_brackets: bool = True) -> str:
    encoded = urlencode(list(_api_encode(params)))
    return encoded.replace("%5B", "[").replace("%5D", "]") if literal_brackets else encoded


def test_the_readme_example() -> None:
    body = (
        "mode=payment&line_items[0][quantity]=2&line_items[0][price_data][currency]=usd"
        "&line_items[0][price_data][unit_amount]=1500&line_items[0][price_data][product_data][name]=GA+ticket"
        "&metadata[order_id]=ord_1&customer_email=a%40b.c"
        "&success_url=https%3A%2F%2Ft.example%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D&allow_promotion_codes=false"
    )
    price = {"currency": "usd", "unit_amount": "1500", "product_data": {"name": "GA ticket"}}
    assert parse_form(body) == {
        "mode": "payment",
        "line_items": [{"quantity": "2", "price_data": price}],
        "metadata": {"order_id": "ord_1"},
        "customer_email": "a@b.c",
        "success_url": "https://t.example/ok?session_id={CHECKOUT_SESSION_ID}",
        "allow_promotion_codes": "false",
    }


@pytest.mark.parametrize(
    "query",
    ["expand%5B0%5D=line_items&expand%5B1%5D=payment_intent", "expand[]=line_items&expand[]=payment_intent"],
)
def test_expand_lists_in_either_form(query: str) -> None:
    assert parse_form(query) == {"expand": ["line_items", "payment_intent"]}


def test_empty_values_are_kept_to_unset() -> None:
    assert parse_form("metadata=&description=") == {"metadata": "", "description": ""}


def test_digit_keys_that_are_not_a_list_stay_a_dict() -> None:
    assert parse_form("metadata[1]=a&metadata[2]=b") == {"metadata": {"1": "a", "2": "b"}}


@pytest.mark.parametrize("body", ["a=1&a[b]=2", "a[b]=2&a=1", "a[b]=1&a[b][c]=2"])
def test_contradicting_keys_are_refused(body: str) -> None:
    with pytest.raises(FormError):
        parse_form(body)


_names = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu"), whitelist_characters="_"), min_size=1)
_leaves = st.text(min_size=0, max_size=20).filter(lambda s: "\x00" not in s)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4), st.dictionaries(_names, inner, min_size=1, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(_names, _values, min_size=1, max_size=5), st.booleans())
def test_round_trips_what_the_sdk_encodes(params: dict[str, Any], literal: bool) -> None:
    assert parse_form(sdk_encode(params, literal_brackets=literal)) == params
