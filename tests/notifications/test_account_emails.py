"""Account emails (pure rendering): a password reset link, and invitations with or without a password to choose."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from boxoffice.notifications.account_emails import AccountEmailContext, render_account_email

LINK = "https://tickets.example/manage/password/abcDEF123"
SIGN_IN = "https://tickets.example/manage/sign-in"
EXPIRES = datetime(2027, 3, 2, 9, 30, tzinfo=UTC)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def context(kind: str, **kw: object) -> AccountEmailContext:
    values: dict[str, object] = {
        "kind": kind,
        "to_email": "ada@example.com",
        "link": LINK,
        "sign_in_url": SIGN_IN,
        "expires_at": EXPIRES,
        "needs_password": True,
    }
    values.update(kw)
    return AccountEmailContext(**values)  # type: ignore[arg-type]


def test_a_reset_email_carries_its_link_and_when_it_ends() -> None:
    message = render_account_email(context("password_reset"), sender="Boxoffice <t@x.example>", dedupe_key="a:tok_1")
    assert message["Subject"] == "Reset your Boxoffice password" and message["To"] == "ada@example.com"
    assert message["Message-ID"] == "<a.tok_1@boxoffice>"  # the same email sent twice has the same id
    text, html = parts(message)
    for body in (text, html):
        assert LINK in body and "09:30 UTC on Tuesday 2 March 2027" in body


def test_an_invitation_to_someone_without_a_password_links_to_choose_one() -> None:
    ctx = context(
        "invitation",
        organizer_name="Rooftop <Jazz>",
        role_label="door (checking tickets in at the door)",
        invited_by="owner@example.com",
    )
    message = render_account_email(ctx, sender="Boxoffice <t@x.example>", dedupe_key="b:tok_2")
    assert message["Subject"] == "You are invited to the Rooftop <Jazz> team on Boxoffice"
    text, html = parts(message)
    assert "owner@example.com added you to the team of Rooftop <Jazz>" in text and LINK in text
    assert "Rooftop &lt;Jazz&gt;" in html and "<Jazz>" not in html  # escaped in HTML
    assert "as door (checking tickets in at the door)" in text


def test_an_invitation_to_someone_with_a_password_says_sign_in() -> None:
    ctx = context("invitation", link=SIGN_IN, needs_password=False, organizer_name="Venue", role_label="manager")
    text, html = parts(render_account_email(ctx, sender="Boxoffice <t@x.example>", dedupe_key="c:tok_3"))
    assert "Sign in with your usual password: " + SIGN_IN in text
    assert "/manage/password/" not in text + html
