"""Transactional outbox: domain events are recorded with the change, delivered after commit.

``record`` (``recorder.py``) adds a message to the caller's transaction; the ``OutboxDispatcher``
(``dispatcher.py``) delivers the messages after the commit, at least once. The contexts only record:
``from boxoffice import outbox`` then ``outbox.record(session, kind, topics, payload)``.
"""

from __future__ import annotations

from boxoffice.outbox.recorder import record

__all__ = ["record"]
