"""Account emails: a password reset link and an invitation to an organizer's team. Pure, like ``render``: the
caller passes an ``AccountEmailContext`` and gets an ``EmailMessage`` for a transport (plain text and HTML)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from boxoffice.notifications.render import _env, _one_line, message_id


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


def render_account_email(
    ctx: AccountEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> EmailMessage:
    if ctx.kind == "password_reset":
        subject = "Reset your Boxoffice password"
    else:
        subject = f"You are invited to the {ctx.organizer_name} team on Boxoffice"
    values = {"a": ctx, "expires": _expiry(ctx.expires_at), "subject": subject}
    text = _env.get_template(f"email/{ctx.kind}.txt").render(**values)
    html = _env.get_template(f"email/{ctx.kind}.html").render(**values)
    message = EmailMessage()
    message["Subject"] = _one_line(subject)
    message["From"] = sender
    message["To"] = Address(addr_spec=ctx.to_email.strip())
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC), usegmt=True)
    message["Message-ID"] = message_id(dedupe_key)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
