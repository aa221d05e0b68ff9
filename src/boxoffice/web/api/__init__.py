"""The REST API under /api/v1: ``events`` (an organizer's events), ``routes`` (ticket types, orders, refunds:
organizers, the public and buyers) and ``streams`` (live SSE)."""

from fastapi import APIRouter

from boxoffice.web.api import events, routes, streams

router = APIRouter()
router.include_router(events.router)
router.include_router(routes.router)
router.include_router(streams.router)

__all__ = ["router"]
