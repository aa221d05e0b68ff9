"""The console's words for the error codes of its own fields (email, password, role, name...); any other field
falls back to the buyer pages' table (``web.pages.words``). Pages say what went wrong from an error's ``code``,
never from its English message."""

from __future__ import annotations

from collections.abc import Mapping

from boxoffice.errors import ErrorCode
from boxoffice.web.pages.words import field_kind, say

WORDS: dict[tuple[ErrorCode, str], str] = {
    (ErrorCode.REQUIRED, "email"): "Please enter an email address",
    (ErrorCode.INVALID_FORMAT, "email"): "Please enter a valid email address, such as name@example.com",
    (ErrorCode.TOO_LONG, "email"): "Please enter a shorter email address",
    (ErrorCode.REQUIRED, "password"): "Please enter a password",
    (ErrorCode.TOO_SHORT, "password"): "Please choose a password of at least {minimum} characters",
    (ErrorCode.TOO_LONG, "password"): "Please choose a password of at most {maximum} characters",
    (ErrorCode.INVALID_FORMAT, "password"): "Please use letters, digits, spaces and symbols only in the password",
    (ErrorCode.CONFLICT_WITH, "password_confirm"): "The two passwords differ: please type the same password twice",
    (ErrorCode.REQUIRED, "role"): "Please choose a role",
    (ErrorCode.INVALID_CHOICE, "role"): "Please choose one of the roles offered",
    (ErrorCode.TOO_LONG, "name"): "Please shorten the name to {maximum} characters",
    (ErrorCode.INVALID_FORMAT, "name"): "Please remove special characters from the name",
}


class _Quoted(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def say_field(code: ErrorCode, field: str, amounts: Mapping[str, int] | tuple[tuple[str, int], ...] = ()) -> str:
    """The sentence for ``code`` on a console field."""
    template = WORDS.get((code, field_kind(field)))
    if template is None:
        return say(code, field, amounts=amounts)
    return template.format_map(_Quoted({name: str(value) for name, value in dict(amounts).items()}))
