"""Passwords: the rules a new password must meet (pure) and argon2id hashing through ``argon2-cffi``.

Hashing costs about a tenth of a second of CPU on purpose, so it runs in a worker thread (the event loop keeps
serving) and never inside a database transaction. ``HASHER`` is argon2-cffi's default (argon2id, RFC 9106's
low-memory profile); a hash made with older parameters is upgraded at the next successful sign-in. argon2 is
imported and ``HASHER`` made on the first hash or check (``hasher()``): a web worker that signs nobody in (a sale's)
does not hold them (0.45 MB).
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import TYPE_CHECKING

from boxoffice.errors import ErrorCode, InvalidInput

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_PASSWORD = 10
MAX_PASSWORD = 256

HASHER: PasswordHasher | None = None  # made by hasher(); a test may set a cheaper one


def hasher() -> PasswordHasher:
    global HASHER
    if HASHER is None:
        from argon2 import PasswordHasher

        HASHER = PasswordHasher()
    return HASHER


def check_new_password(password: str, field: str = "password") -> str:
    """The password when it may be used: at least ``MIN_PASSWORD`` characters, at most ``MAX_PASSWORD``, no
    control characters. Spaces are allowed (a passphrase)."""
    if not password:
        raise InvalidInput.one(field, "is required", code=ErrorCode.REQUIRED)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput.one(
            field,
            f"must be at least {MIN_PASSWORD} characters",
            (("minimum", MIN_PASSWORD),),
            code=ErrorCode.TOO_SHORT,
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput.one(
            field, f"must be at most {MAX_PASSWORD} characters", (("maximum", MAX_PASSWORD),), code=ErrorCode.TOO_LONG
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise InvalidInput.one(field, "must not contain control characters", code=ErrorCode.INVALID_FORMAT)
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher().hash, password)


def _verify(hashed: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return hasher().verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _decoy(parameters: str) -> str:
    return hasher().hash("no user has this password: it only makes an unknown email take as long as a known one")


async def verify_password(hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches ``hashed``. Without a hash (unknown email, no password set yet) a decoy hash is
    checked, so the answer takes as long either way and says nothing about which emails have accounts."""
    if hashed is None or len(password) > MAX_PASSWORD:  # no password is that long: refused in the same time
        await asyncio.to_thread(_verify, _decoy(repr(hasher())), password[:MAX_PASSWORD])
        return False
    return await asyncio.to_thread(_verify, hashed, password)


def needs_rehash(hashed: str) -> bool:
    from argon2.exceptions import InvalidHashError

    try:
        return hasher().check_needs_rehash(hashed)
    except InvalidHashError:
        return True
