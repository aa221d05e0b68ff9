"""The email to an endpoint's owners (the organizer and the team members who manage webhooks) when it is disabled
after a day of failures: at least once (the endpoint's ``notice_pending`` is cleared only after the transport took
the messages; a sender killed in between sends them again, with the same ``Message-ID``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.accounts.models import Membership, User
from boxoffice.accounts.roles import Action, roles_permitted
from boxoffice.db import Database
from boxoffice.events.models import Person
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.notifications.transport import EmailTransport, TransportError

log = logging.getLogger("boxoffice.integrations")


async def owner_emails(session: AsyncSession, organizer_id: str) -> list[str]:
    """Who hears about an organizer's endpoints: the organizer's own address, then the team members who may manage
    webhooks (owners and managers: ``Action.MANAGE_WEBHOOKS``), each address once (in any case)."""
    found = [await session.scalar(select(Person.email).where(Person.id == organizer_id))]
    roles = [role.value for role in roles_permitted(Action.MANAGE_WEBHOOKS)]
    found += (
        await session.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organizer_id == organizer_id, Membership.role.in_(roles))
            .order_by(Membership.created_at, Membership.id)
        )
    ).all()
    seen: set[str] = set()
    out: list[str] = []
    for email in found:
        if email and email.strip().lower() not in seen:
            seen.add(email.strip().lower())
            out.append(email.strip())
    return out


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "an unknown time"


def render_disabled_notice(
    endpoint: WebhookEndpoint, to: str, *, sender: str, public_url: str, last_problem: str | None
) -> EmailMessage:
    from boxoffice.notifications.render import message_id  # the email rendering: where an email is made

    message = EmailMessage()
    message["Subject"] = "Webhook endpoint disabled after a day of failed deliveries"
    message["From"] = sender
    message["To"] = Address(addr_spec=to.strip())
    message["Date"] = format_datetime(datetime.now(UTC), usegmt=True)
    disabled = endpoint.disabled_at.timestamp() if endpoint.disabled_at else 0
    # one per recipient and disabling: sent again after a crash, it is the same message (transports dedupe on it)
    message["Message-ID"] = message_id(f"webhook-disabled:{endpoint.id}:{int(disabled)}:{to.strip().lower()}")
    message["Auto-Submitted"] = "auto-generated"
    api = f"{public_url.rstrip('/')}/api/v1/webhook-endpoints/{endpoint.id}"
    message.set_content(
        "\n".join(
            [
                "Hello,",
                "",
                f"Deliveries to your webhook endpoint {endpoint.url} ({endpoint.id}) have failed since "
                f"{_when(endpoint.failing_since)}, so Boxoffice disabled it at {_when(endpoint.disabled_at)}.",
                f"Last problem: {last_problem or 'no answer'}.",
                "",
                "Nothing more is sent to it while it is disabled. The deliveries that were waiting are marked failed "
                "in its delivery log, from where each can be sent again.",
                "",
                "Once the receiver answers with a 2xx status again:",
                f'- enable the endpoint: PATCH {api} with {{"enabled": true}}',
                f"- see what failed: GET {api}/deliveries?status=failed",
                f"- send one again: POST {api}/deliveries/<delivery id>/redeliver",
                "",
                "Boxoffice",
            ]
        )
    )
    return message


async def send_notices(
    db: Database, transport: EmailTransport, *, sender: str, public_url: str, limit: int = 20
) -> int:
    """Send the pending disabled-endpoint emails. Returns how many endpoints' emails went out."""
    async with db.read() as session:
        endpoints = list(
            (
                await session.scalars(
                    select(WebhookEndpoint).where(WebhookEndpoint.notice_pending.is_(True)).limit(limit)
                )
            ).all()
        )
        recipients = {e.id: await owner_emails(session, e.organizer_id) for e in endpoints}
    sent = 0
    for endpoint in endpoints:
        async with db.read() as session:
            last = (
                await session.execute(
                    select(WebhookAttempt.status_code, WebhookAttempt.error)
                    .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                    .where(WebhookDelivery.endpoint_id == endpoint.id)
                    .order_by(WebhookAttempt.id.desc())
                    .limit(1)
                )
            ).first()
        last_problem = None
        if last is not None:
            last_problem = last.error or f"answered with status {last.status_code}"
        try:
            for to in recipients[endpoint.id]:
                await transport.send(
                    render_disabled_notice(
                        endpoint, to, sender=sender, public_url=public_url, last_problem=last_problem
                    )
                )
        except TransportError as exc:
            log.warning(
                "disabled-endpoint email not sent; will retry", extra={"endpoint_id": endpoint.id, "error": str(exc)}
            )
            continue
        async with db.transaction() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.disabled_at == endpoint.disabled_at)
                .values(notice_pending=False)
            )
        sent += 1
        log.info("disabled-endpoint email sent", extra={"endpoint_id": endpoint.id})
    return sent
