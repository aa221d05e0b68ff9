"""Helpers for the accounts and console tests: cheap password hashes, members with passwords, a signed-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from argon2 import PasswordHasher, profiles

from boxoffice.accounts import passwords
from boxoffice.accounts.roles import Role
from boxoffice.accounts.users import set_password_with_link, user_with_membership
from boxoffice.db import Database
from tests.helpers import unique_email

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def cheap_password_hashes() -> Iterator[None]:
    """argon2id with the cheapest parameters: the same code path, a thousandth of the CPU (tests sign in often)."""
    kept = passwords.HASHER
    passwords.HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
    try:
        yield
    finally:
        passwords.HASHER = kept


@dataclass
class Member:
    email: str
    organizer_email: str
    organizer_id: str
    user_id: str
    password: str = PASSWORD


async def make_member(
    db: Database,
    secret: bytes,
    *,
    role: Role = Role.OWNER,
    organizer: str | None = None,
    email: str | None = None,
    password: str | None = PASSWORD,
) -> Member:
    """A user in an organizer's team (both created when new), with a password unless ``password`` is None."""
    organizer = organizer or unique_email("org")
    email = email or unique_email(role.value)
    user, person, raw = await user_with_membership(db, organizer, email, role, secret)
    if password is not None:
        await set_password_with_link(db, raw, password)
    return Member(email, person.email, person.id, user.id, password or "")


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the sign-in form; returns the session's CSRF token (from the first page)."""
    form = await client.get("/manage/sign-in")
    answer = await client.post(
        "/manage/sign-in", data={"csrf_token": csrf_of(form), "email": email, "password": password}
    )
    assert answer.status_code == 303, answer.text[:2000]
    home = await client.get(answer.headers["location"])
    return csrf_of(home)
