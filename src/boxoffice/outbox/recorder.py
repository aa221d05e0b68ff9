"""Recording a domain event: a message added to the caller's transaction, delivered after its commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.outbox.models import OutboxMessage


def record(session: AsyncSession, kind: str, topics: Sequence[str], payload: dict[str, Any]) -> None:
    """Add a domain event to the current transaction."""
    session.add(OutboxMessage(kind=kind, topics=list(topics), payload=payload, created_at=utcnow()))
