"""Console forms: what was typed (kept to show again), the problems in words, each pointed at its field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import Request

from boxoffice.errors import FieldError
from boxoffice.web.console.words import say_field

# Longer values are cut as they are read: above the longest field any rule allows (an event's description, 20,000
# characters), so that a value too long gets its error in words instead of being cut silently and saved.
MAX_VALUE = 25_000
NOT_KEPT = frozenset({"password", "password_confirm", "csrf_token"})  # never echoed back into a page


@dataclass
class Problem:
    message: str
    target: str | None = None  # the id of the field at fault


@dataclass
class ConsoleForm:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    prefix: str = ""  # the fields' ids are prefix + name (several forms on one page)

    @classmethod
    async def read(cls, request: Request, *, prefix: str = "") -> ConsoleForm:
        raw = await request.form()
        values = {k: v[:MAX_VALUE] for k, v in raw.items() if isinstance(v, str)}
        return cls(values, prefix=prefix)

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def raw(self, name: str) -> str:
        """A value as typed (passwords: spaces count)."""
        return self.values.get(name, "")

    def add(self, message: str, name: str | None = None) -> None:
        target = self.prefix + name if name else None
        if any(p.message == message and p.target == target for p in self.problems):
            return
        self.problems.append(Problem(message, target))
        if target:
            self.errors.setdefault(target, []).append(message)

    def add_errors(self, errors: Iterable[FieldError], *, rename: dict[str, str] | None = None) -> None:
        """The service's field errors, in words by their codes (``rename``: a service field -> this form's)."""
        for error in errors:
            name = (rename or {}).get(error.field, error.field)
            self.add(say_field(error.code, name, error.amounts), name)

    def shown(self) -> ConsoleForm:
        """This form without the values a page must not show again (passwords, the CSRF token)."""
        kept = {k: v for k, v in self.values.items() if k not in NOT_KEPT}
        return ConsoleForm(kept, self.errors, self.problems, self.prefix)

    @property
    def ok(self) -> bool:
        return not self.problems
