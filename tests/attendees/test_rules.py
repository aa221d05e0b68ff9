"""The pure rules of questions and answers: every kind, conditions, scopes, per-ticket answers, attendee details;
and properties (hypothesis): cleaning is idempotent, any JSON is answered with field errors only."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxoffice.attendees import rules
from boxoffice.attendees.rules import (
    Asked,
    AttendeeInput,
    Condition,
    LineInput,
    QuestionDraft,
    QuestionRule,
    check_details,
    check_question,
    clean_answer,
)
from boxoffice.errors import ErrorCode, InvalidInput


def errors_of(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, ErrorCode]:
    return {e.field: e.code for e in exc.value.errors}


def q(qid: str, kind: str, **kw: Any) -> QuestionRule:
    return QuestionRule(qid, kind, **kw)


SIZE = q("q_size", "choice", required=True, options=("S", "M", "L"))
DIET = q("q_diet", "multiple_choice", options=("vegan", "gluten-free"))
COMPANY = q("q_company", "yes_no", scope="order", required=True)
VAT = q("q_vat", "text", scope="order", required=True, condition=Condition("q_company", ("yes",)))


@pytest.mark.parametrize(
    ("kind", "given_value", "stored"),
    [
        ("text", "  Hello ", "Hello"),
        ("text", "", None),
        ("long_text", "line one\nline two", "line one\nline two"),
        ("number", 12, 12),
        ("number", "12", 12),
        ("number", "-3.50", -3.5),
        ("number", 2.25, 2.25),
        ("choice", "M", "M"),
        ("multiple_choice", ["gluten-free", "vegan", "vegan"], ["vegan", "gluten-free"]),
        ("multiple_choice", "vegan", ["vegan"]),
        ("multiple_choice", [], None),
        ("yes_no", False, False),
        ("yes_no", "yes", True),
        ("date", "2027-02-28", "2027-02-28"),
        ("country", "de", "DE"),
        ("phone", "+49 (30) 123-4567", "+49301234567"),
        ("phone", "0049 30 1234567", "+49301234567"),
    ],
)
def test_each_kind_cleans_what_it_takes(kind: str, given_value: object, stored: object) -> None:
    question = q("q_1", kind, options=("M", "vegan", "gluten-free") if "choice" in kind else ())
    if kind == "multiple_choice":
        question = DIET
    assert clean_answer(question, given_value, "answers.q_1") == stored


@pytest.mark.parametrize(
    ("kind", "given_value", "code"),
    [
        ("text", "x" * 201, ErrorCode.TOO_LONG),
        ("text", "tab\there", ErrorCode.INVALID_FORMAT),
        ("text", 12, ErrorCode.INVALID_TYPE),
        ("long_text", "x" * 5001, ErrorCode.TOO_LONG),
        ("number", "twelve", ErrorCode.INVALID_FORMAT),
        ("number", "1e5", ErrorCode.INVALID_FORMAT),
        ("number", True, ErrorCode.INVALID_TYPE),
        ("number", 10**12, ErrorCode.ABOVE_MAXIMUM),
        ("number", "0.1234567", ErrorCode.INVALID_FORMAT),
        ("number", float("nan"), ErrorCode.INVALID_FORMAT),
        ("choice", "XL", ErrorCode.INVALID_CHOICE),
        ("yes_no", "maybe", ErrorCode.INVALID_CHOICE),
        ("yes_no", 1, ErrorCode.INVALID_TYPE),
        ("date", "2027-02-30", ErrorCode.INVALID_FORMAT),
        ("date", "28.02.2027", ErrorCode.INVALID_FORMAT),
        ("country", "XX", ErrorCode.INVALID_CHOICE),
        ("country", "DEU", ErrorCode.INVALID_CHOICE),
        ("phone", "030 1234567", ErrorCode.INVALID_FORMAT),
        ("phone", "+49 30", ErrorCode.INVALID_FORMAT),
        ("phone", "+1234567890123456", ErrorCode.INVALID_FORMAT),
        ("phone", "+\uff14\uff19301234567", ErrorCode.INVALID_FORMAT),  # full-width digits
    ],
)
def test_each_kind_refuses_what_it_does_not_take(kind: str, given_value: object, code: ErrorCode) -> None:
    question = q("q_1", kind, options=("M",) if kind == "choice" else ())
    with pytest.raises(InvalidInput) as exc:
        clean_answer(question, given_value, "answers.q_1")
    assert errors_of(exc) == {"answers.q_1": code}


def test_several_choices_name_the_option_at_fault() -> None:
    with pytest.raises(InvalidInput) as exc:
        clean_answer(DIET, ["vegan", "paleo"], "answers.q_diet")
    assert errors_of(exc) == {"answers.q_diet[1]": ErrorCode.INVALID_CHOICE}


def test_the_country_list_is_iso_3166_alpha_2() -> None:
    assert len(rules.COUNTRIES) == 249
    assert rules.COUNTRIES["DE"] == "Germany"
    assert all(len(code) == 2 and code.isupper() for code in rules.COUNTRIES)


# -- order details ---------------------------------------------------------------------------------------------


def test_per_ticket_answers_and_required_names_are_checked_per_ticket_with_paths() -> None:
    asked = Asked("required", (SIZE, DIET))
    lines = [
        LineInput(
            "tt_a",
            2,
            [AttendeeInput("Ada", "ada@example.com", {"q_size": "M"}), AttendeeInput("Bob", "", {"q_size": "XL"})],
        )
    ]
    with pytest.raises(InvalidInput) as exc:
        check_details(asked, {}, lines)
    assert errors_of(exc) == {
        "lines[0].attendees[1].email": ErrorCode.REQUIRED,
        "lines[0].attendees[1].answers.q_size": ErrorCode.INVALID_CHOICE,
    }


def test_missing_attendees_are_named_one_by_one() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_details(Asked("off", (SIZE,)), {}, [LineInput("tt_a", 2, [AttendeeInput(answers={"q_size": "S"})])])
    assert errors_of(exc) == {"lines[0].attendees[1].answers.q_size": ErrorCode.REQUIRED}


def test_valid_details_are_cleaned_one_attendee_per_ticket() -> None:
    asked = Asked("optional", (SIZE, COMPANY, VAT))
    details = check_details(
        asked,
        {"q_company": "no", "q_vat": "DE123"},  # the VAT question is not asked: its answer is dropped
        [
            LineInput("tt_a", 2, [AttendeeInput("Ada", None, {"q_size": "S"}), AttendeeInput(answers={"q_size": "L"})]),
        ],
    )
    assert details.answers == {"q_company": False}
    assert [(a.name, a.email, a.answers) for a in details.lines[0]] == [
        ("Ada", "", {"q_size": "S"}),
        ("", "", {"q_size": "L"}),
    ]


def test_a_condition_met_makes_its_required_question_required() -> None:
    asked = Asked("off", (COMPANY, VAT))
    with pytest.raises(InvalidInput) as exc:
        check_details(asked, {"q_company": True}, [LineInput("tt_a", 1)])
    assert errors_of(exc) == {"answers.q_vat": ErrorCode.REQUIRED}
    assert check_details(asked, {"q_company": "yes", "q_vat": " DE1 "}, [LineInput("tt_a", 1)]).answers == {
        "q_company": True,
        "q_vat": "DE1",
    }


def test_conditions_chain_a_hidden_question_hides_those_depending_on_it() -> None:
    first = q("q_a", "yes_no")
    second = q("q_b", "choice", options=("x", "y"), condition=Condition("q_a", ("yes",)))
    third = q("q_c", "text", required=True, condition=Condition("q_b", ("x",)))
    asked = Asked("off", (first, second, third))
    details = check_details(asked, {}, [LineInput("tt", 1, [AttendeeInput(answers={"q_a": False, "q_b": "x"})])])
    assert details.lines[0][0].answers == {"q_a": False}  # q_b hidden, so q_c too: not required


def test_scopes_and_ticket_types_are_kept_apart() -> None:
    vip_only = q("q_vip", "text", required=True, ticket_type_ids=frozenset({"tt_vip"}))
    asked = Asked("off", (SIZE, COMPANY, vip_only))
    with pytest.raises(InvalidInput) as exc:
        check_details(
            asked,
            {"q_company": False, "q_size": "S", "q_nope": 1},
            [LineInput("tt_a", 1, [AttendeeInput(answers={"q_size": "S", "q_company": True, "q_vip": "x"})])],
        )
    assert errors_of(exc) == {
        "answers.q_size": ErrorCode.NOT_APPLICABLE,
        "answers.q_nope": ErrorCode.UNKNOWN_FIELD,
        "lines[0].attendees[0].answers.q_company": ErrorCode.NOT_APPLICABLE,
        "lines[0].attendees[0].answers.q_vip": ErrorCode.NOT_APPLICABLE,
    }


def test_an_event_that_asks_nothing_takes_no_attendees() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_details(Asked(), {}, [LineInput("tt", 1, [AttendeeInput("Ada")])])
    assert errors_of(exc) == {"lines[0].attendees": ErrorCode.NOT_APPLICABLE}
    assert check_details(Asked(), None, [LineInput("tt", 3)]) == rules.Details({}, ((),))


def test_names_are_not_taken_when_the_event_asks_for_none() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_details(Asked("off", (SIZE,)), {}, [LineInput("tt", 1, [AttendeeInput("Ada", None, {"q_size": "S"})])])
    assert errors_of(exc) == {"lines[0].attendees[0].name": ErrorCode.NOT_APPLICABLE}


def test_more_attendees_than_tickets_are_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_details(Asked("optional"), {}, [LineInput("tt", 1, [AttendeeInput("A"), AttendeeInput("B")])])
    assert exc.value.errors[0].field == "lines[0].attendees"
    assert exc.value.errors[0].code is ErrorCode.OVER_LIMIT
    assert exc.value.errors[0].amount("maximum") == 1


def test_attendee_emails_are_checked() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_details(Asked("optional"), {}, [LineInput("tt", 1, [AttendeeInput("A", "not-an-address")])])
    assert errors_of(exc) == {"lines[0].attendees[0].email": ErrorCode.INVALID_FORMAT}


# -- question definitions ------------------------------------------------------------------------------------------


def test_question_definitions_are_checked_field_by_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_question(
            "q_new",
            QuestionDraft(label=" ", kind="choice", scope="order", options=["A", "A"], ticket_type_ids=["tt_x"]),
            {},
            {"tt_a"},
        )
    assert errors_of(exc) == {
        "label": ErrorCode.REQUIRED,
        "options[1]": ErrorCode.CONFLICT_WITH,
        "ticket_ids[0]": ErrorCode.NOT_FOUND,
    }
    with pytest.raises(InvalidInput) as exc:
        check_question("q_new", QuestionDraft(label="Size", kind="choice"), {}, set())
    assert errors_of(exc) == {"options": ErrorCode.REQUIRED}
    with pytest.raises(InvalidInput) as exc:
        check_question("q_new", QuestionDraft(label="Age", kind="number", options=["1"]), {}, set())
    assert errors_of(exc) == {"options": ErrorCode.NOT_APPLICABLE}


def test_conditions_name_a_question_of_the_same_scope_with_values_it_can_have() -> None:
    others = {SIZE.id: SIZE, COMPANY.id: COMPANY, "q_t": q("q_t", "text")}

    def refused(condition: dict[str, Any], scope: str = "ticket") -> dict[str, ErrorCode]:
        with pytest.raises(InvalidInput) as exc:
            check_question("q_new", QuestionDraft("Why", "text", scope=scope, condition=condition), others, set())
        return errors_of(exc)

    assert refused({"question_id": "q_company", "values": ["yes"]}) == {
        "condition.question_id": ErrorCode.CONFLICT_WITH
    }
    assert refused({"question_id": "q_t", "values": ["a"]}) == {"condition.question_id": ErrorCode.CONFLICT_WITH}
    assert refused({"question_id": "q_size", "values": ["M", "XXL"]}) == {
        "condition.values[1]": ErrorCode.INVALID_CHOICE
    }
    assert refused({"question_id": "q_gone", "values": ["x"]}) == {"condition.question_id": ErrorCode.NOT_FOUND}
    assert refused({"question_id": "q_size", "values": []}) == {"condition.values": ErrorCode.REQUIRED}
    made = check_question(
        "q_new",
        QuestionDraft("Why", "text", scope="order", condition={"question_id": "q_company", "values": ["yes"]}),
        others,
        set(),
    )
    assert made.condition == Condition("q_company", ("yes",))


def test_a_loop_of_conditions_is_refused() -> None:
    a = q("q_a", "choice", options=("x",), condition=Condition("q_b", ("x",)))
    b = q("q_b", "choice", options=("x",))
    with pytest.raises(InvalidInput) as exc:
        check_question(
            "q_b",
            QuestionDraft("B", "choice", options=["x"], condition={"question_id": "q_a", "values": ["x"]}),
            {"q_a": a, "q_b": b},
            set(),
        )
    assert errors_of(exc) == {"condition.question_id": ErrorCode.CONFLICT_WITH}


# -- properties ----------------------------------------------------------------------------------------------------

ALL_KINDS = [q(f"q_{kind}", kind, options=("a", "b", "c") if "choice" in kind else ()) for kind in rules.KINDS]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)


@given(st.sampled_from(ALL_KINDS), JSON)
def test_any_json_is_cleaned_or_refused_with_field_errors_and_cleaning_is_idempotent(
    question: QuestionRule, value: object
) -> None:
    try:
        cleaned = clean_answer(question, value, "answers.x")
    except InvalidInput as exc:
        assert exc.errors and all(e.field.startswith("answers.x") for e in exc.errors)
        return
    assert clean_answer(question, cleaned, "answers.x") == cleaned


@given(
    st.sampled_from(["+", "00"]),
    st.integers(1, 9),
    st.lists(st.integers(0, 9), min_size=7, max_size=14),
    st.lists(st.sampled_from([" ", "-", ".", "/", "(", ")"]), max_size=14),
)
def test_any_formatting_of_an_international_number_gives_the_same_phone(
    prefix: str, first: int, rest: list[int], separators: list[str]
) -> None:
    digits = str(first) + "".join(map(str, rest))
    spaced = prefix + "".join(d + (separators[i] if i < len(separators) else "") for i, d in enumerate(digits))
    assert rules.clean_phone(spaced, "p") == "+" + digits


@given(st.lists(st.sampled_from(["S", "M", "L", "XL"]), max_size=3), st.booleans(), st.integers(1, 4))
def test_details_give_one_attendee_per_ticket_or_name_each_missing_answer(
    sizes: list[str], required: bool, quantity: int
) -> None:
    size = q("q_size", "choice", required=required, options=("S", "M", "L"))
    given_attendees = [AttendeeInput(answers={"q_size": s}) for s in sizes[:quantity]]
    try:
        details = check_details(Asked("off", (size,)), {}, [LineInput("tt", quantity, given_attendees)])
    except InvalidInput as exc:
        for error in exc.errors:
            assert error.field.startswith("lines[0].attendees[")
            assert error.code in (ErrorCode.REQUIRED, ErrorCode.INVALID_CHOICE)
        return
    assert len(details.lines[0]) == quantity
    assert all(a.answers.get("q_size", "S") in ("S", "M", "L") for a in details.lines[0])
