"""Voucher rules (ticketing/vouchers.py): examples and properties (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxoffice import money
from boxoffice.errors import ErrorCode, InvalidInput, VoucherUnavailable
from boxoffice.ticketing import pricing as p
from boxoffice.ticketing import vouchers as v

NOW = datetime(2027, 1, 1, tzinfo=UTC)
FIXED = p.TicketPricing("fixed", "usd", base_price_cents=2500)
FLEX = p.TicketPricing("flexible", "usd", minimum_price_cents=1000, suggested_price_cents=2000)

discounts = st.one_of(
    st.none(),
    st.builds(v.Discount, st.just("percent"), st.integers(1, 100)),
    st.builds(v.Discount, st.just("amount"), st.integers(1, money.MAXIMUM_AMOUNT)),
    st.builds(v.Discount, st.just("price"), st.integers(0, money.MAXIMUM_AMOUNT)),
)
amounts = st.integers(0, money.MAXIMUM_AMOUNT)


@st.composite
def pricings(draw: st.DrawFn) -> tuple[p.TicketPricing, int]:
    """A ticket's pricing and a price a unit of it may cost without a voucher (a flexible one: a chosen price)."""
    currency = draw(st.sampled_from(["usd", "eur", "jpy", "krw", "gbp"]))
    model = draw(st.sampled_from(p.PRICING_MODELS))
    if model == "fixed":
        base = draw(amounts)
        return p.TicketPricing("fixed", currency, base_price_cents=base), base
    if model == "flexible":
        minimum = draw(st.integers(0, 100_000))
        chosen = draw(st.integers(minimum, money.MAXIMUM_AMOUNT))
        return p.TicketPricing("flexible", currency, minimum_price_cents=minimum), chosen
    tier = draw(amounts)
    return p.TicketPricing("dynamic", currency, tiers=(p.PriceTier(tier),)), tier


@given(pricings(), discounts)
def test_a_voucher_never_makes_a_ticket_cost_less_than_zero_or_more_than_without_it(
    priced: tuple[p.TicketPricing, int], discount: v.Discount | None
) -> None:
    pricing, undiscounted = priced
    price = v.unit_price(pricing, undiscounted, discount)
    assert isinstance(price, int) and not isinstance(price, bool)  # whole minor units, in any currency
    assert 0 <= price <= undiscounted


@given(pricings(), discounts)
def test_a_flexible_minimum_is_kept_unless_the_voucher_sets_the_price(
    priced: tuple[p.TicketPricing, int], discount: v.Discount | None
) -> None:
    pricing, chosen = priced
    if pricing.model != "flexible":
        return
    price = v.unit_price(pricing, chosen, discount)
    if discount is None or discount.kind != "price":
        assert price >= (pricing.minimum_price_cents or 0)
    else:
        assert price == min(discount.value, chosen)


@given(amounts, st.integers(1, 100))
def test_a_percentage_is_taken_off_rounded_down_to_the_minor_unit(base: int, percent: int) -> None:
    pricing = p.TicketPricing("fixed", "usd", base_price_cents=base)
    price = v.unit_price(pricing, base, v.Discount("percent", percent))
    # the discount is the largest whole number of minor units not above the percentage
    discount = base - price
    assert discount * 100 <= base * percent < (discount + 1) * 100


@given(st.lists(amounts, min_size=1, max_size=20), discounts)
def test_dynamic_units_keep_their_order_and_each_is_discounted_alone(
    tier_prices: list[int], discount: v.Discount | None
) -> None:
    pricing = p.TicketPricing("dynamic", "eur", tiers=(p.PriceTier(0),))
    prices = v.unit_prices(pricing, tier_prices, discount)
    assert prices == tuple(v.unit_price(pricing, t, discount) for t in tier_prices)
    assert all(0 <= after <= before for after, before in zip(prices, tier_prices, strict=True))


def test_examples_per_kind() -> None:
    assert v.unit_price(FIXED, 2500, v.Discount("percent", 20)) == 2000
    assert v.unit_price(FIXED, 2500, v.Discount("percent", 100)) == 0
    assert v.unit_price(FIXED, 999, v.Discount("percent", 15)) == 850  # 149.85 off, rounded down to 149
    assert v.unit_price(FIXED, 2500, v.Discount("amount", 500)) == 2000
    assert v.unit_price(FIXED, 2500, v.Discount("amount", 9000)) == 0
    assert v.unit_price(FIXED, 2500, v.Discount("price", 1000)) == 1000
    assert v.unit_price(FIXED, 2500, v.Discount("price", 9000)) == 2500  # never above the ticket's own price
    # pay what you want: the chosen price is reduced, never below the minimum, unless the voucher sets the price
    assert v.unit_price(FLEX, 3000, v.Discount("percent", 50)) == 1500
    assert v.unit_price(FLEX, 1200, v.Discount("percent", 50)) == 1000
    assert v.unit_price(FLEX, 1200, v.Discount("amount", 5000)) == 1000
    assert v.unit_price(FLEX, 1200, v.Discount("price", 0)) == 0
    assert v.unit_price(FLEX, 1200, None) == 1200


def terms(**kw: object) -> v.VoucherTerms:
    return v.VoucherTerms(**{"code": "SPRING", **kw})  # type: ignore[arg-type]


def test_validity_window_is_from_inclusive_until_exclusive() -> None:
    window = terms(valid_from=NOW, valid_until=NOW + timedelta(days=1))
    v.check_window(window, NOW)
    with pytest.raises(VoucherUnavailable) as early:
        v.check_window(window, NOW - timedelta(seconds=1))
    assert early.value.reason == ErrorCode.VOUCHER_NOT_YET_VALID
    with pytest.raises(VoucherUnavailable) as late:
        v.check_window(window, NOW + timedelta(days=1))
    assert late.value.reason == ErrorCode.VOUCHER_EXPIRED


def test_applies_to_named_types_and_unlocked_hidden_ones() -> None:
    every = terms()
    assert v.applies_to(every, "tt_a", hidden=False)
    assert not v.applies_to(every, "tt_h", hidden=True)  # a hidden type needs a voucher that unlocks it
    named = terms(ticket_type_ids=frozenset({"tt_a"}), unlocks=frozenset({"tt_h"}))
    assert v.applies_to(named, "tt_a", hidden=False)
    assert not v.applies_to(named, "tt_b", hidden=False)
    assert v.applies_to(named, "tt_h", hidden=True)
    access = terms(unlocks=frozenset({"tt_h"}))  # an access code: what it unlocks, nothing else
    assert v.applies_to(access, "tt_h", hidden=True) and not v.applies_to(access, "tt_a", hidden=False)


def test_use_checks_say_which_rule_refused() -> None:
    limited = terms(max_uses=5, uses=3, max_per_order=4)
    v.check_use(limited, 2, NOW)
    with pytest.raises(VoucherUnavailable) as used:
        v.check_use(limited, 3, NOW)
    assert used.value.reason == ErrorCode.VOUCHER_USED_UP and used.value.remaining == 2
    with pytest.raises(InvalidInput) as none:
        v.check_use(limited, 0, NOW)
    assert none.value.errors[0].code == ErrorCode.VOUCHER_NOT_APPLICABLE
    with pytest.raises(InvalidInput) as per_order:
        v.check_use(terms(max_per_order=2), 3, NOW)
    assert per_order.value.errors[0].code == ErrorCode.OVER_LIMIT


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=3, max_size=64))
def test_codes_compare_whatever_their_case(code: str) -> None:
    assert v.normalize_code(code.lower()) == v.normalize_code(code.upper()) == v.normalize_code(f"  {code} ")


def test_organizer_fields_are_checked_together() -> None:
    values = v.voucher_values({"code": "Crew-2027", "discount": {"percent": 20}, "ticket_ids": ["tt_b", "tt_a"]})
    assert values["code_normalized"] == "CREW-2027" and values["discount"] == {"percent": 20}
    assert values["ticket_type_ids"] == ["tt_a", "tt_b"]
    with pytest.raises(InvalidInput) as bad:
        v.voucher_values({"code": "x", "discount": {"percent": 0}, "max_uses": 0})
    assert {e.field for e in bad.value.errors} == {"code", "discount.percent", "max_uses"}
    with pytest.raises(InvalidInput) as reserve:
        v.voucher_values({"code": "PRESS", "reserve": 5})  # a reservation needs its one ticket type
    assert reserve.value.errors[0].field == "reserve"
    with pytest.raises(InvalidInput) as order:
        v.voucher_values({"code": "PRESS", "valid_from": NOW, "valid_until": NOW})
    assert order.value.errors[0].code == ErrorCode.NOT_ORDERED
    with pytest.raises(InvalidInput) as more:
        v.voucher_values({"code": "PRESS", "ticket_ids": ["tt_a"], "reserve": 5, "max_uses": 2})
    assert more.value.errors[0].field == "reserve"


def test_discount_description_names_the_amounts() -> None:
    assert v.Discount("percent", 20).describe("usd") == "20% off"
    assert v.Discount("amount", 500).describe("eur") == "€5.00 off each ticket"
    assert v.Discount("price", 0).describe("usd") == "free"
    assert v.Discount("price", 1500).describe("jpy") == "¥1,500 a ticket"
