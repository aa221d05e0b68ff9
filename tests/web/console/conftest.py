"""The console tests hash passwords with argon2id's cheapest parameters (``tests.accounts.support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.accounts.support import cheap_password_hashes


@pytest.fixture(scope="module", autouse=True)
def cheap_hashes() -> Iterator[None]:
    with cheap_password_hashes():
        yield
