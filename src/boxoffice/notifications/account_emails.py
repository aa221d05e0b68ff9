"""Account emails: a password reset link and an invitation to an organizer's team. Pure, like ``render``: the
caller passes an ``AccountEmailContext`` and gets the email for a transport (plain text and HTML), composed straight
to bytes as every email of ours (``compose_account_email``), or as an ``EmailMessage`` (``render_account_email``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from boxoffice.notifications.mime import ComposedEmail


@dataclass(frozen=True)
class AccountEmailContext:
    kind: str  # "password_reset" or "invitation"
    to_email: str
    link: str  # the one-time link (reset, or choose a password to join), else the sign-in page
    sign_in_url: str
    expires_at: datetime
    needs_password: bool  # an invitation to someone who has no password yet: the link sets one
    organizer_name: str = ""
    role_label: str = ""
    invited_by: str = ""


def _expiry(value: datetime) -> str:
    at = value.astimezone(UTC)
    return f"{at:%H:%M} UTC on {at:%A} {at.day} {at:%B %Y}"


def compose_account_email(
    ctx: AccountEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> ComposedEmail:
    from boxoffice.notifications.render import _env, compose_simple  # where an email is made, not in a web worker

    if ctx.kind == "password_reset":
        subject = "Reset your Boxoffice password"
    else:
        subject = f"You are invited to the {ctx.organizer_name} team on Boxoffice"
    values = {"a": ctx, "expires": _expiry(ctx.expires_at), "subject": subject}
    text = _env.get_template(f"email/{ctx.kind}.txt").render(**values)
    html = _env.get_template(f"email/{ctx.kind}.html").render(**values)
    return compose_simple(
        to_email=ctx.to_email, sender=sender, subject=subject, dedupe_key=dedupe_key, text=text, html=html, now=now
    )


def render_account_email(
    ctx: AccountEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> EmailMessage:
    """``compose_account_email`` as an ``EmailMessage``."""
    return compose_account_email(ctx, sender=sender, dedupe_key=dedupe_key, now=now).as_message()
