"""Deleting what the accounts context no longer needs: ended sessions, old failed sign-in counters, one-time links
expired a week ago (kept a while so a late click still gets "this link has expired")."""

from __future__ import annotations

from datetime import timedelta

from boxoffice.accounts import sessions, throttle
from boxoffice.accounts.models import AccountToken
from boxoffice.accounts.users import RESET_RULE
from boxoffice.clock import utcnow
from boxoffice.db import Database

EXPIRED_LINKS_KEPT = timedelta(days=7)


async def prune_accounts(db: Database, *, sign_in_window: timedelta) -> dict[str, int]:
    return {
        "user_sessions": await sessions.prune_expired(db),
        "sign_in_failures": await throttle.prune(db, older_than=max(sign_in_window, RESET_RULE.window)),
        "account_tokens": await db.delete_in_batches(
            AccountToken, AccountToken.expires_at < utcnow() - EXPIRED_LINKS_KEPT
        ),
    }
