"""The REST API under /api/v1: ``events`` (an organizer's events), ``routes`` (ticket types, orders, refunds:
organizers, the public and buyers), ``keys`` (API keys), ``attendees`` (questions, attendee settings, self-service
changes and transfers), ``webhooks`` (outgoing webhook endpoints and their delivery logs), ``checkin`` (check-in
lists, scans, door devices), ``offers`` (vouchers and waiting lists) and ``streams`` (live SSE)."""

from fastapi import APIRouter

from boxoffice.web.api import attendees, checkin, events, keys, offers, routes, streams, webhooks

# Included one by one into the application (``web.register``), not through one router of routers: FastAPI matches a
# request again at every level of inclusion, so each level costs every request a second pass over the routes below it.
# ``routes`` comes first: it holds the buyers' hot path (placing an order); ``web.register`` includes it, then
# ``streams`` and the pages, before the others.
ROUTERS: tuple[APIRouter, ...] = (
    routes.router,
    events.router,
    keys.router,
    attendees.router,
    webhooks.router,
    checkin.router,
    streams.router,
    offers.router,
)

__all__ = ["ROUTERS"]
