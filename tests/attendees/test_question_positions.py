"""A question's position lies in -1000..1000 whatever the interface (the API's schema says so; the console's form
passes any whole number): beyond it the change is refused by field and nothing is written."""

from __future__ import annotations

import pytest

from boxoffice.attendees import questions as service
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, InvalidInput
from tests.helpers import make_event


@pytest.mark.parametrize(
    ("position", "code"),
    [(1001, ErrorCode.ABOVE_MAXIMUM), (99_999_999_999, ErrorCode.ABOVE_MAXIMUM), (-1001, ErrorCode.BELOW_MINIMUM)],
)
async def test_positions_out_of_range_are_refused_and_change_nothing(
    db: Database, position: int, code: ErrorCode
) -> None:
    event = await make_event(db)
    with pytest.raises(InvalidInput) as created:
        await service.create_question(db, event.id, {"label": "Size", "kind": "text", "position": position})
    assert [(e.field, e.code) for e in created.value.errors] == [("position", code)]
    assert await service.list_questions(db, event.id) == []

    question = await service.create_question(db, event.id, {"label": "Size", "kind": "text", "position": 1000})
    with pytest.raises(InvalidInput) as updated:
        await service.update_question(db, question.id, {"position": position})
    assert [(e.field, e.code) for e in updated.value.errors] == [("position", code)]
    assert (await service.get_question(db, question.id)).position == 1000
