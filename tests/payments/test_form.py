"""The Checkout Session's form body is the one the Stripe SDK would send, byte for byte."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from stripe._encode import _api_encode

from boxoffice.payments.form import form_body


def sdk_body(params: dict[str, Any]) -> str:
    """What the SDK's requestor does with a request's parameters (``_api_requestor``, form-encoded POST)."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.text(
    alphabet=st.sampled_from(" []%+&=?/:@#.~_-aZ09{}\"'\\\t\n"), max_size=30
)
scalars = texts | st.integers() | st.booleans() | st.none() | st.binary(max_size=8) | st.datetimes()
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(texts, inner, max_size=3)
        | st.dictionaries(texts, inner, max_size=3).map(OrderedDict)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.dictionaries(texts, values, max_size=6))
def test_any_parameters_encode_as_the_sdk_encodes_them(params: dict[str, Any]) -> None:
    assert form_body(params) == sdk_body(params)


def test_a_checkout_session_as_boxoffice_sends_it() -> None:
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 1500,
                    "product_data": {"name": "Fête de la musique \u2013 [VIP] 50% off & more", "description": ""},
                },
            }
        ],
        "customer_email": "ana+tickets@example.com",
        "metadata": {"order_id": "ord_1", "event_id": "evt_1"},
        "success_url": "https://box.test/orders/ord_1?token=a.b-c_d~&session_id={CHECKOUT_SESSION_ID}",
        "expires_at": 1_800_000_000,
        "allow_promotion_codes": False,
    }
    body = form_body(params)
    assert body == sdk_body(params)
    assert "line_items[0][price_data][product_data][name]=F%C3%AAte+de+la+musique+%E2%80%93+[VIP]+50%25+off+%26" in body
    assert "&customer_email=ana%2Btickets%40example.com&" in body
    assert body.endswith("&expires_at=1800000000&allow_promotion_codes=false")
