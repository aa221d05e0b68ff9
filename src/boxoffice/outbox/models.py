"""The outbox: domain events written in the same transaction as the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base

# The order (else ticket) a message is about, as SQL: the key of the PostgreSQL index of unpublished messages below;
# a query that is to use that index writes the key as exactly this text (``integrations.sender._held_keys``).
MESSAGE_KEY_SQL = "coalesce(payload ->> 'order_id', payload ->> 'ticket_id')"


class OutboxMessage(Base):
    """A domain event to hand over. On PostgreSQL the unpublished ones are also indexed by their order's (else
    ticket's) key (``integrations.sender._held_keys``)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_unpublished", "published_at", "id"),
        # The dispatcher's claim: the unpublished messages in id order (its ``ORDER BY id LIMIT n`` stops after n).
        Index(
            "ix_outbox_messages_due",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        Index(
            "ix_outbox_messages_unpublished_key",
            text(MESSAGE_KEY_SQL),
            "id",
            postgresql_where=text("published_at IS NULL"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
