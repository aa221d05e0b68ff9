"""Pricing rules and totals: examples plus properties (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxoffice import money
from boxoffice.errors import InvalidInput
from boxoffice.ticketing import pricing as p

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_fixed_price_is_the_base_price() -> None:
    fixed = p.TicketPricing("fixed", "usd", base_price_cents=1500)
    assert p.unit_prices(fixed, 3, chosen=None, taken_before=0, now=NOW) == (1500, 1500, 1500)


def test_fixed_price_rejects_another_price() -> None:
    fixed = p.TicketPricing("fixed", "usd", base_price_cents=1500)
    with pytest.raises(InvalidInput) as exc:
        p.unit_prices(fixed, 1, chosen=1000, taken_before=0, now=NOW, field="lines[0].price_cents")
    assert fields(exc) == {"lines[0].price_cents"}


def test_flexible_defaults_to_suggested_then_minimum() -> None:
    both = p.TicketPricing("flexible", "usd", minimum_price_cents=500, suggested_price_cents=2000)
    only_min = p.TicketPricing("flexible", "usd", minimum_price_cents=500)
    assert p.unit_prices(both, 2, chosen=None, taken_before=0, now=NOW) == (2000, 2000)
    assert p.unit_prices(only_min, 1, chosen=None, taken_before=0, now=NOW) == (500,)
    assert p.unit_prices(both, 1, chosen=700, taken_before=0, now=NOW) == (700,)


def test_flexible_below_minimum_is_refused() -> None:
    flex = p.TicketPricing("flexible", "eur", minimum_price_cents=500)
    with pytest.raises(InvalidInput) as exc:
        p.unit_prices(flex, 1, chosen=499, taken_before=0, now=NOW, field="lines[0].price_cents")
    assert "at least the minimum price of €5.00" in exc.value.errors[0].message
    assert exc.value.errors[0].amounts == (("minimum_cents", 500),)


def test_money_in_refusals_is_quoted_as_buyers_see_it_with_the_integer_beside() -> None:
    fixed = p.TicketPricing("fixed", "eur", base_price_cents=2000)
    with pytest.raises(InvalidInput) as exc:
        p.unit_prices(fixed, 1, chosen=1500, taken_before=0, now=NOW, field="lines[0].price_cents")
    (error,) = exc.value.errors
    assert "fixed price of €20.00" in error.message and "2000" not in error.message
    assert error.as_dict() == {
        "field": "lines[0].price_cents",
        "code": "conflict_with",
        "message": error.message,
        "expected_cents": 2000,
    }
    with pytest.raises(InvalidInput) as small:  # a zero-decimal currency: yen, no decimals
        p.order_totals([p.PricedLine("jpy", (1,))], 0)
    assert "¥50" in small.value.errors[0].message and small.value.errors[0].amounts == (("minimum_cents", 50),)


def test_flexible_minimum_above_suggested_is_invalid() -> None:
    errs = p.pricing_errors(p.TicketPricing("flexible", "usd", minimum_price_cents=900, suggested_price_cents=500))
    assert [e.field for e in errs] == ["suggested_price_cents"]


TIERS: list[dict[str, object]] = [
    {"price_cents": 1000, "up_to": 100},
    {"price_cents": 1500, "until": "2027-03-01T00:00:00Z"},
    {"price_cents": 2000},
]


def parsed(raw: list[dict[str, object]]) -> tuple[p.PriceTier, ...]:
    errors: list[object] = []
    tiers = p.parse_tiers(raw, errors)  # type: ignore[arg-type]
    assert errors == []
    return tiers


def test_dynamic_tiers_by_count_and_date() -> None:
    dyn = p.TicketPricing("dynamic", "usd", tiers=parsed(TIERS))
    assert p.unit_prices(dyn, 1, chosen=None, taken_before=0, now=NOW) == (1000,)
    assert p.unit_prices(dyn, 1, chosen=None, taken_before=99, now=NOW) == (1000,)
    assert p.unit_prices(dyn, 1, chosen=None, taken_before=100, now=NOW) == (1500,)
    late = datetime(2027, 3, 1, tzinfo=UTC)
    assert p.unit_prices(dyn, 1, chosen=None, taken_before=100, now=late) == (2000,)


def test_order_straddling_a_tier_boundary_pays_each_unit_its_price() -> None:
    dyn = p.TicketPricing("dynamic", "usd", tiers=parsed(TIERS))
    assert p.unit_prices(dyn, 4, chosen=None, taken_before=98, now=NOW) == (1000, 1000, 1500, 1500)


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        (
            [{"price_cents": 1000, "up_to": 10}, {"price_cents": 1200, "up_to": 5}, {"price_cents": 2000}],
            "price_tiers[1].up_to",
        ),
        ([{"price_cents": 1000, "up_to": 10}, {"price_cents": 2000, "up_to": 20}], "price_tiers[1]"),
        ([{"price_cents": 1000}, {"price_cents": 2000}], "price_tiers[0]"),
        ([{"price_cents": -1, "up_to": 3}, {"price_cents": 2000}], "price_tiers[0].price_cents"),
        ([{"price_cents": 100, "until": "2027-03-01"}, {"price_cents": 2000}], "price_tiers[0].until"),
        (
            [
                {"price_cents": 100, "until": "2027-03-01T00:00:00Z"},
                {"price_cents": 150, "until": "2027-02-01T00:00:00Z"},
                {"price_cents": 2},
            ],
            "price_tiers[1].until",
        ),
        ([], "price_tiers"),
        ("cheap", "price_tiers"),
        ([{"price_cents": 100, "up_to": 0}, {"price_cents": 2}], "price_tiers[0].up_to"),
        ([{"price": 100}, {"price_cents": 2}], "price_tiers[0]"),
    ],
)
def test_bad_tiers_name_the_field(tiers: object, field: str) -> None:
    errors: list[object] = []
    tiers_parsed = p.parse_tiers(tiers, errors)  # type: ignore[arg-type]
    if not errors:
        errors.extend(p.pricing_errors(p.TicketPricing("dynamic", "usd", tiers=tiers_parsed)))
    assert field in {e.field for e in errors}  # type: ignore[attr-defined]


def test_unsupported_currency_is_named() -> None:
    errs = p.pricing_errors(p.TicketPricing("fixed", "xyz", base_price_cents=100))
    assert [e.field for e in errs] == ["currency"]


def test_tip_rules() -> None:
    assert p.check_tip(None, tippable=False) == 0
    assert p.check_tip(0, tippable=False) == 0
    assert p.check_tip(300, tippable=True) == 300
    with pytest.raises(InvalidInput):
        p.check_tip(300, tippable=False)
    with pytest.raises(InvalidInput):
        p.check_tip(-1, tippable=True)


def test_totals_mixing_currencies_is_an_error() -> None:
    with pytest.raises(InvalidInput) as exc:
        p.order_totals([p.PricedLine("usd", (1000,)), p.PricedLine("eur", (1000,))], 0)
    assert fields(exc) == {"lines"}


def test_totals_below_stripe_minimum_refused_but_free_allowed() -> None:
    assert p.order_totals([p.PricedLine("usd", (0, 0))], 0).total_cents == 0
    with pytest.raises(InvalidInput):
        p.order_totals([p.PricedLine("usd", (49,))], 0)
    assert p.order_totals([p.PricedLine("usd", (50,))], 0).total_cents == 50
    with pytest.raises(InvalidInput):
        p.order_totals([p.PricedLine("usd", (money.MAXIMUM_AMOUNT,))], 1)  # tip: non-tippable
    with pytest.raises(InvalidInput):
        p.order_totals([p.PricedLine("usd", (money.MAXIMUM_AMOUNT, 1))], 0)


def test_zero_decimal_currency_minimum_and_format() -> None:
    assert money.currency("JPY").exponent == 0
    assert money.format_money(1500, "jpy") == "¥1,500"
    assert money.format_money(1500, "usd") == "$15.00"
    assert money.format_money(1250, "chf") == "12.50 CHF"
    with pytest.raises(InvalidInput):
        p.order_totals([p.PricedLine("jpy", (49,))], 0)
    assert p.order_totals([p.PricedLine("jpy", (50,))], 0).total_cents == 50


# ---- properties ----------------------------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=200_000)


@given(
    lines=st.lists(st.lists(amounts, min_size=1, max_size=5), min_size=1, max_size=5),
    tip=st.integers(min_value=0, max_value=10_000),
)
def test_total_is_subtotal_plus_tip_and_subtotal_is_sum_of_lines(lines: list[list[int]], tip: int) -> None:
    priced = [p.PricedLine("usd", tuple(units), tippable=True) for units in lines]
    subtotal = sum(sum(units) for units in lines)
    try:
        totals = p.order_totals(priced, tip)
    except InvalidInput:
        assert 0 < subtotal + tip < 50
        return
    assert totals.subtotal_cents == subtotal
    assert totals.total_cents == subtotal + tip
    assert totals.total_cents == 0 or totals.total_cents >= 50


@st.composite
def tier_lists(draw: st.DrawFn) -> tuple[p.PriceTier, ...]:
    ceilings = sorted(draw(st.sets(st.integers(min_value=1, max_value=500), min_size=0, max_size=4)))
    prices = draw(st.lists(amounts, min_size=len(ceilings) + 1, max_size=len(ceilings) + 1))
    tiers = [p.PriceTier(price, up_to=c) for price, c in zip(prices, ceilings, strict=False)]
    tiers.append(p.PriceTier(prices[-1]))
    return tuple(tiers)


@given(tiers=tier_lists(), before=st.integers(min_value=0, max_value=600), q=st.integers(min_value=1, max_value=20))
def test_dynamic_units_priced_by_position(tiers: tuple[p.PriceTier, ...], before: int, q: int) -> None:
    assert p.pricing_errors(p.TicketPricing("dynamic", "usd", tiers=tiers)) == []
    dyn = p.TicketPricing("dynamic", "usd", tiers=tiers)
    prices = p.unit_prices(dyn, q, chosen=None, taken_before=before, now=NOW)
    assert len(prices) == q
    for i, price in enumerate(prices):
        position = before + i + 1
        expected = next(t.price_cents for t in tiers if t.up_to is None or position <= t.up_to)
        assert price == expected
    # Splitting an order in two never changes what the units cost.
    split = q // 2
    first = p.unit_prices(dyn, split, chosen=None, taken_before=before, now=NOW) if split else ()
    rest = p.unit_prices(dyn, q - split, chosen=None, taken_before=before + split, now=NOW)
    assert first + rest == prices


@given(
    minimum=amounts,
    extra=st.integers(min_value=0, max_value=10_000),
    chosen=st.one_of(st.none(), amounts),
)
def test_flexible_price_never_below_minimum(minimum: int, extra: int, chosen: int | None) -> None:
    flex = p.TicketPricing("flexible", "usd", minimum_price_cents=minimum, suggested_price_cents=minimum + extra)
    try:
        (price,) = p.unit_prices(flex, 1, chosen=chosen, taken_before=0, now=NOW)
    except InvalidInput:
        assert chosen is not None and chosen < minimum
        return
    assert price >= minimum
    assert price == (chosen if chosen is not None else minimum + extra)


@given(days=st.integers(min_value=-400, max_value=400))
def test_dated_tier_applies_strictly_before_until(days: int) -> None:
    until = datetime(2027, 3, 1, tzinfo=UTC)
    dyn = p.TicketPricing("dynamic", "usd", tiers=(p.PriceTier(100, until=until), p.PriceTier(200)))
    now = until + timedelta(days=days)
    assert p.unit_prices(dyn, 1, chosen=None, taken_before=0, now=now) == ((100,) if now < until else (200,))


@st.composite
def count_ladders(draw: st.DrawFn) -> tuple[p.PriceTier, ...]:
    ceilings = sorted(draw(st.sets(st.integers(1, 200), min_size=0, max_size=4)))
    prices = draw(st.lists(st.integers(0, 50_000), min_size=len(ceilings) + 1, max_size=len(ceilings) + 1))
    tiers = [p.PriceTier(price, up_to=ceiling) for price, ceiling in zip(prices, ceilings, strict=False)]
    return (*tiers, p.PriceTier(prices[-1]))


@given(count_ladders(), st.integers(0, 250))
def test_the_announced_step_is_what_the_next_units_cost(tiers: tuple[p.PriceTier, ...], taken: int) -> None:
    step = p.price_step(tiers, taken, NOW)
    assert step.price_cents == p.tier_price(tiers, taken + 1, NOW)
    if step.units is None:  # the last step: every later unit costs the same
        assert all(p.tier_price(tiers, taken + k, NOW) == step.price_cents for k in range(1, 30))
        assert step.next_price_cents is None
        return
    assert step.units >= 1
    assert all(p.tier_price(tiers, taken + k, NOW) == step.price_cents for k in range(1, step.units + 1))
    after = p.tier_price(tiers, taken + step.units + 1, NOW)
    assert step.next_price_cents == (after if after != step.price_cents else None)


def test_a_dated_step_names_its_end_and_the_price_after() -> None:
    dyn = parsed(TIERS)  # 10.00 up to 100 sold, 15.00 until 2027-03-01, then 20.00
    assert p.price_step(dyn, 88, NOW) == p.PriceStep(1000, 12, None, 1500)
    dated = p.price_step(dyn, 100, NOW)
    assert (dated.price_cents, dated.units, dated.next_price_cents) == (1500, None, 2000)
    assert dated.until == datetime(2027, 3, 1, tzinfo=UTC)
    assert p.price_step(dyn, 100, datetime(2027, 3, 2, tzinfo=UTC)) == p.PriceStep(2000, None, None, None)
