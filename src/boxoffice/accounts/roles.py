"""Team roles and what each may do: a pure rule table, no I/O.

``owner`` may do everything, including the team and the API keys; ``manager`` runs events (events, ticket types,
orders, refunds, exports, check-in); ``door`` checks tickets in and sees the list of events it checks in for. A
route asks ``role.permits(Action.X)``; the console's ``require(*roles)`` is the same rule written as roles.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    VIEW_EVENTS = "view_events"  # the organizer's events, by title and date
    MANAGE_EVENTS = "manage_events"  # create and edit events and ticket types, see sales
    MANAGE_ORDERS = "manage_orders"  # find orders, cancel a pending one, resend an email
    REFUND = "refund"
    EXPORT = "export"
    CHECK_IN = "check_in"
    MANAGE_TEAM = "manage_team"  # invite, change roles, remove members
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_WEBHOOKS = "manage_webhooks"  # outgoing webhook endpoints, their secrets and delivery log


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    DOOR = "door"

    def permits(self, action: Action) -> bool:
        return action in PERMISSIONS[self]

    @property
    def label(self) -> str:
        return LABELS[self]


_MANAGER = frozenset(
    {
        Action.VIEW_EVENTS,
        Action.MANAGE_EVENTS,
        Action.MANAGE_ORDERS,
        Action.REFUND,
        Action.EXPORT,
        Action.CHECK_IN,
        Action.MANAGE_WEBHOOKS,
    }
)
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.MANAGER: _MANAGER,
    Role.DOOR: frozenset({Action.VIEW_EVENTS, Action.CHECK_IN}),
}
LABELS: dict[Role, str] = {
    Role.OWNER: "Owner (everything)",
    Role.MANAGER: "Manager (events, orders, refunds)",
    Role.DOOR: "Door (check-in only)",
}
DESCRIPTIONS: dict[Role, str] = {
    Role.OWNER: "everything, including the team and the API keys",
    Role.MANAGER: "events, ticket types, orders, refunds and exports",
    Role.DOOR: "checking tickets in at the door",
}


def roles_permitted(action: Action) -> tuple[Role, ...]:
    """The roles that may do ``action`` (for ``require(*roles_permitted(Action.REFUND))``)."""
    return tuple(role for role in Role if role.permits(action))


def parse_role(value: str) -> Role | None:
    """The role named ``value`` (any case, surrounding spaces ignored), else ``None``."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        return None
