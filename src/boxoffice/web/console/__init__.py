"""The organizer console under ``/manage``: server-rendered pages (Jinja2, no JavaScript build), like the buyer
pages, for an organizer's team.

Modules: ``access`` (the session, ``Member``, roles, CSRF, the route class), ``render`` (``render`` and the
navigation), ``forms`` and ``words`` (what was typed, problems in words), and one module per area: ``auth``
(sign-in, sign-out, forgot password, the one-time link page), ``home`` (events, the organizer chooser), ``team``,
``keys`` (API keys), ``landing`` (``/``), ``questions`` (an event's attendee details and questions), ``vouchers``
and ``waiting_list`` (an event's codes and waiting lists), ``checkin`` (check-in lists, recent check-ins, "Open the
scanner") and ``door_devices`` (paired door devices).

Adding a page:

1. A module with ``router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)`` (``access``), included in
   ``router`` below.
2. The endpoint takes the member: ``member: ConsoleMember`` for any role, or
   ``member: Annotated[Member, Depends(require(Role.OWNER, Role.MANAGER))]`` (``Owner``, ``OwnerOrManager``), and
   scopes every query by ``member.organizer_id`` (another organizer's thing answers 404: raise ``NotFound``, the
   route class shows the page).
3. It answers ``render(request, "console/<page>.html", {...})``; the template extends ``console/base.html`` and
   fills ``title`` and ``content``. Forms: ``{% import "console/_forms.html" as forms with context %}``, then
   ``forms.csrf_field()`` in every POST form (the route class refuses a POST without it, 403, before the endpoint
   runs), ``forms.input``/``forms.select``/``forms.error_summary`` with a ``forms.ConsoleForm``.
4. After a successful POST, redirect (303) to a page; a form with problems is rendered again (422) with them.
5. A new section of the navigation: append a ``NavItem`` to ``render.NAV`` with the ``Action`` that shows it.
"""

from __future__ import annotations

from fastapi import APIRouter

from boxoffice.web.console import (
    attendees,
    auth,
    checkin,
    dashboard,
    door_devices,
    emails,
    events,
    exports,
    home,
    keys,
    landing,
    orders,
    questions,
    team,
    ticket_types,
    vouchers,
    waiting_list,
    webhooks,
)

router = APIRouter(include_in_schema=False)
router.include_router(landing.router)
router.include_router(auth.router)
router.include_router(home.router)
router.include_router(team.router)
router.include_router(keys.router)
router.include_router(events.router)
router.include_router(ticket_types.router)
router.include_router(dashboard.router)
router.include_router(orders.router)
router.include_router(exports.router)
router.include_router(attendees.router)
router.include_router(questions.router)
router.include_router(emails.router)
router.include_router(webhooks.router)
router.include_router(vouchers.router)
router.include_router(waiting_list.router)
router.include_router(checkin.router)
router.include_router(door_devices.router)

__all__ = ["router"]
