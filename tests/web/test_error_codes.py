"""Error codes: every field error carries one, every code has words on the buyer pages and a place in the OpenAPI
enum, representative rules raise their codes, pydantic's errors map to the same codes."""

from __future__ import annotations

import ast
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from boxoffice.errors import ErrorCode, FieldError, InvalidInput, SalesClosed, SoldOut
from boxoffice.events.models import Event
from boxoffice.ticketing import pricing as p
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import LineRequest, OrderRequest, _check_plan, _check_request
from boxoffice.web.api.schemas import FieldProblem
from boxoffice.web.pages.forms import CheckoutForm, _service_problems
from boxoffice.web.pages.words import WORDS, say
from boxoffice.web.problems import validation_error

SRC = Path(__file__).resolve().parents[2] / "src" / "boxoffice"
NOW = datetime(2027, 1, 1, tzinfo=UTC)
# what ``say`` fills in: the ticket, the field in words, the currency, and the amounts rules quote
PLACEHOLDERS = {"title", "what", "currency", "example", "tickets", "minimum", "maximum", "available", "remaining"}


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called == name:
                found.append((path, node))
    return found


def _codes_named_in_src() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode":
                names.add(node.attr)
    return names


def test_every_field_error_in_src_passes_its_code() -> None:
    calls = _calls("FieldError") + [(path, call) for path, call in _calls("one") if "InvalidInput" in ast.unparse(call)]
    assert len(calls) > 60  # the walk found the rules
    for path, call in calls:
        assert "code" in {k.arg for k in call.keywords}, f"{path.relative_to(SRC)}:{call.lineno}: {ast.unparse(call)}"
    with pytest.raises(TypeError):
        FieldError("title", "is required")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        InvalidInput.one("title", "is required")  # type: ignore[call-arg]


def test_every_code_the_domain_raises_has_words_on_the_pages() -> None:
    raised = _codes_named_in_src()
    assert {"REQUIRED", "BELOW_MINIMUM", "MIXED_CURRENCY", "OVER_LIMIT", "SOLD_OUT", "NOT_ON_SALE"} <= raised
    assert raised <= set(ErrorCode.__members__)
    for code in ErrorCode:
        assert "" in WORDS[code], code  # a sentence for any field
        for key, template in WORDS[code].items():
            used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            assert used <= PLACEHOLDERS, (code, key, used - PLACEHOLDERS)
            field = key.removesuffix("/none") or "field"
            amounts = {"minimum_cents": 500, "maximum": 4, "available": 2, "remaining": 3}
            if key.endswith("/none"):
                amounts = {"minimum_cents": 0, "available": 0, "remaining": 0}
            sentence = say(code, f"lines[0].{field}", title="Supporter", amounts=amounts)
            assert sentence[:1].isupper() and "{" not in sentence and "  " not in sentence, (code, key, sentence)


def test_the_openapi_enum_lists_exactly_the_codes() -> None:
    schema = FieldProblem.model_json_schema()
    assert "code" in schema["required"]
    assert schema["$defs"]["ErrorCode"]["enum"] == [code.value for code in ErrorCode]


def test_words_come_from_the_code_never_the_message() -> None:
    tt = TicketType(id="tt_1", title="Supporter", currency="eur", max_per_order=4)
    form = CheckoutForm()
    nonsense = "(a message the page must not read)"
    errors = [
        FieldError("lines[0].price_cents", nonsense, (("minimum_cents", 500),), code=ErrorCode.BELOW_MINIMUM),
        FieldError("lines[0].quantity", nonsense, (("maximum", 1),), code=ErrorCode.OVER_LIMIT),
        FieldError("lines", nonsense, code=ErrorCode.MIXED_CURRENCY),
        FieldError("email", nonsense, code=ErrorCode.REQUIRED),
    ]
    _service_problems(form, errors, [tt])
    assert [(problem.message, problem.target) for problem in form.problems] == [
        ("Please enter at least €5.00 for Supporter", "price-tt_1"),
        ("You can buy at most 1 Supporter ticket per order", "qty-tt_1"),
        ("Tickets in different currencies must be bought in separate orders", None),
        ("Please enter your email address: your tickets are sent there", "email"),
    ]
    assert not any(nonsense in problem.message for problem in form.problems)


def test_sold_out_and_sales_closed_words() -> None:
    sold = SoldOut("x", ticket_type_id="tt_1", available=0, field="lines[0].quantity")
    few = SoldOut("x", ticket_type_id="tt_1", available=1, field="lines[0].quantity")
    ended = SalesClosed("x", field="lines[0].ticket_id", reason=ErrorCode.SALES_ENDED)
    words = [
        say(e.code, e.field, title="Balcony", amounts=e.amounts) for x in (sold, few, ended) for e in x.field_errors()
    ]
    assert words == ["Balcony is sold out", "Only 1 ticket left for Balcony", "Sales for Balcony have ended"]
    assert [e.code for e in sold.field_errors()] == [ErrorCode.SOLD_OUT]
    assert SoldOut("x", ticket_type_id="tt_1", available=0).field_errors() == []


# -- representative rules raise their codes -----------------------------------------------------------------------


def _only(exc: pytest.ExceptionInfo[InvalidInput]) -> FieldError:
    (error,) = exc.value.errors
    return error


def test_pricing_codes() -> None:
    flex = p.TicketPricing("flexible", "eur", minimum_price_cents=500)
    with pytest.raises(InvalidInput) as low:
        p.unit_prices(flex, 1, chosen=499, taken_before=0, now=NOW, field="lines[0].price_cents")
    assert (_only(low).code, _only(low).amount("minimum_cents")) == (ErrorCode.BELOW_MINIMUM, 500)
    with pytest.raises(InvalidInput) as mixed:
        p.order_totals([p.PricedLine("eur", (500,)), p.PricedLine("usd", (500,))], 0)
    assert (_only(mixed).field, _only(mixed).code) == ("lines", ErrorCode.MIXED_CURRENCY)
    with pytest.raises(InvalidInput) as tip:
        p.check_tip(100, tippable=False)
    assert _only(tip).code == ErrorCode.NOT_TIPPABLE
    with pytest.raises(InvalidInput) as fixed:
        p.unit_prices(p.TicketPricing("fixed", "usd", base_price_cents=2000), 1, chosen=1, taken_before=0, now=NOW)
    assert (_only(fixed).code, _only(fixed).amount("expected_cents")) == (ErrorCode.CONFLICT_WITH, 2000)
    with pytest.raises(InvalidInput) as charge:
        p.order_totals([p.PricedLine("usd", (20,))], 0)
    assert (_only(charge).code, _only(charge).amount("minimum_cents")) == (ErrorCode.BELOW_MINIMUM, 50)
    tiers = p.pricing_errors(p.TicketPricing("dynamic", "usd", tiers=(p.PriceTier(100, up_to=5),)))
    assert [(e.field, e.code) for e in tiers] == [("price_tiers[0]", ErrorCode.TIER_BOUNDS)]


def _request(*lines: LineRequest, tip: Any = None, email: str = "a@example.com") -> OrderRequest:
    return OrderRequest(event_id="ev_1", email=email, lines=lines, tip_cents=tip)


def test_order_request_codes() -> None:
    with pytest.raises(InvalidInput) as many:
        _check_request(_request(*[LineRequest("tt_1", 1)] * 3), max_lines=2, max_quantity=50)
    assert (_only(many).code, _only(many).amount("maximum")) == (ErrorCode.OVER_LIMIT, 2)
    with pytest.raises(InvalidInput) as odd:
        _check_request(
            _request(LineRequest("tt_1", "2"), LineRequest("tt_2", 0), LineRequest("", 1), tip=-1, email=""),  # type: ignore[arg-type]
            max_lines=20,
            max_quantity=50,
        )
    assert [(e.field, e.code) for e in odd.value.errors] == [
        ("email", ErrorCode.REQUIRED),
        ("lines[0].quantity", ErrorCode.NOT_INTEGER),
        ("lines[1].quantity", ErrorCode.BELOW_MINIMUM),
        ("lines[2].ticket_id", ErrorCode.REQUIRED),
        ("tip_cents", ErrorCode.BELOW_MINIMUM),
    ]


def _sale(**ticket: Any) -> tuple[Event, dict[str, TicketType]]:
    event = Event(id="ev_1", title="Night", status="published", ends_at=NOW + timedelta(days=30))
    values: dict[str, Any] = {
        "id": "tt_1",
        "title": "Standing",
        "pricing_model": "fixed",
        "base_price_cents": 1500,
        "currency": "usd",
        "price_tiers": None,
        "tippable": False,
        "max_per_order": None,
        "starts_at": None,
        "ends_at": None,
    }
    values.update(ticket)
    return event, {"tt_1": TicketType(**values)}


def test_plan_codes() -> None:
    event, found = _sale(max_per_order=4)
    with pytest.raises(InvalidInput) as over:
        _check_plan(_request(LineRequest("tt_1", 5)), event, found, NOW)
    assert (_only(over).field, _only(over).code, _only(over).amount("maximum")) == (
        "lines[0].quantity",
        ErrorCode.OVER_LIMIT,
        4,
    )
    with pytest.raises(InvalidInput) as unknown:
        _check_plan(_request(LineRequest("tt_nope", 1)), event, found, NOW)
    assert (_only(unknown).field, _only(unknown).code) == ("lines[0].ticket_id", ErrorCode.NOT_FOUND)
    for ticket, reason in (
        ({"starts_at": NOW + timedelta(days=1)}, ErrorCode.NOT_STARTED),
        ({"ends_at": NOW - timedelta(days=1)}, ErrorCode.SALES_ENDED),
    ):
        event, found = _sale(**ticket)
        with pytest.raises(SalesClosed) as closed:
            _check_plan(_request(LineRequest("tt_1", 1)), event, found, NOW)
        assert [(e.field, e.code) for e in closed.value.field_errors()] == [("lines[0].ticket_id", reason)]
    event.status = "canceled"
    with pytest.raises(SalesClosed) as off:
        _check_plan(_request(LineRequest("tt_1", 1)), event, found, NOW)
    assert [e.code for e in off.value.field_errors()] == [ErrorCode.NOT_ON_SALE]


@pytest.mark.parametrize(
    ("error", "code", "amounts"),
    [
        ({"type": "missing", "loc": ("body", "email"), "msg": "Field required"}, ErrorCode.REQUIRED, ()),
        (
            {"type": "string_too_long", "loc": ("body", "name"), "msg": "x", "ctx": {"max_length": 200}},
            ErrorCode.TOO_LONG,
            (("maximum", 200),),
        ),
        ({"type": "too_short", "loc": ("body", "lines"), "msg": "x", "ctx": {"min_length": 1}}, ErrorCode.REQUIRED, ()),
        ({"type": "int_type", "loc": ("body", "tip_cents"), "msg": "x"}, ErrorCode.NOT_INTEGER, ()),
        ({"type": "int_parsing", "loc": ("body", "tip_cents"), "msg": "x"}, ErrorCode.NOT_INTEGER, ()),
        (
            {"type": "greater_than_equal", "loc": ("body", "lines", 0, "quantity"), "msg": "x", "ctx": {"ge": 1}},
            ErrorCode.BELOW_MINIMUM,
            (("minimum", 1),),
        ),
        (
            {"type": "less_than_equal", "loc": ("body", "quantity"), "msg": "x", "ctx": {"le": 1000}},
            ErrorCode.ABOVE_MAXIMUM,
            (("maximum", 1000),),
        ),
        ({"type": "literal_error", "loc": ("body", "status"), "msg": "x"}, ErrorCode.INVALID_CHOICE, ()),
        ({"type": "extra_forbidden", "loc": ("body", "colour"), "msg": "x"}, ErrorCode.UNKNOWN_FIELD, ()),
        ({"type": "timezone_aware", "loc": ("body", "starts_at"), "msg": "x"}, ErrorCode.NO_TIMEZONE, ()),
        ({"type": "something_new", "loc": ("query", "x"), "msg": "x"}, ErrorCode.INVALID, ()),
    ],
)
def test_pydantic_errors_map_to_codes(error: dict[str, Any], code: ErrorCode, amounts: tuple[Any, ...]) -> None:
    mapped = validation_error(error)
    assert (mapped.code, mapped.amounts) == (code, amounts)
    assert mapped.field == ".".join(str(p) for p in error["loc"][1:]).replace(".0.", "[0].")
