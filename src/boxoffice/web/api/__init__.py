"""The REST API under /api/v1: ``events`` (an organizer's events), ``routes`` (ticket types, orders, refunds:
organizers, the public and buyers), ``keys`` (API keys), ``attendees`` (questions, attendee settings, self-service
changes and transfers), ``webhooks`` (outgoing webhook endpoints and their delivery logs), ``checkin`` (check-in
lists, scans, door devices), ``offers`` (vouchers and waiting lists) and ``streams`` (live SSE)."""

from fastapi import APIRouter

from boxoffice.web.api import attendees, checkin, events, keys, offers, routes, streams, webhooks

router = APIRouter()
router.include_router(events.router)
router.include_router(routes.router)
router.include_router(keys.router)
router.include_router(attendees.router)
router.include_router(webhooks.router)
router.include_router(checkin.router)
router.include_router(streams.router)
router.include_router(offers.router)

__all__ = ["router"]
