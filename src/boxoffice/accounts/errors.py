"""The accounts context's refusals (each maps to a problem document and to words on the console's pages)."""

from __future__ import annotations

from boxoffice.errors import Conflict, NotFound, TooManyRequests, Unauthorized


class InvalidCredentials(Unauthorized):
    """Wrong email or password (which of the two is never said)."""

    code = "invalid-credentials"
    title = "Invalid credentials"


class SignInThrottled(TooManyRequests):
    """Too many failed sign-ins for the account (``limit="sign-in-account"``) or the address
    (``limit="sign-in-address"``)."""


class InvalidLink(NotFound):
    """A one-time link that is unknown, used already or expired."""

    code = "invalid-link"
    title = "Invalid link"


class LastOwner(Conflict):
    """The change would leave the organizer without an owner."""

    code = "last-owner"
    title = "Last owner"


class AlreadyMember(Conflict):
    code = "already-member"
    title = "Already a member"
