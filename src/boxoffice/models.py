"""Imports every context's tables so that ``Base.metadata`` is complete (for Alembic and tests)."""

from __future__ import annotations


def load_all_models() -> None:
    import boxoffice.accounts.models
    import boxoffice.attendees.models
    import boxoffice.checkin.models
    import boxoffice.events.models
    import boxoffice.integrations.models
    import boxoffice.notifications.models
    import boxoffice.outbox.models
    import boxoffice.payments.models
    import boxoffice.ticketing.models
    import boxoffice.ticketing.voucher_models  # noqa: F401
