"""The REST API under /api/v1: ``routes`` (organizers, the public and buyers), ``streams`` (live SSE) and
``checkin`` (check-in lists, scans, door devices)."""

from fastapi import APIRouter

from boxoffice.web.api import checkin, routes, streams

router = APIRouter()
router.include_router(routes.router)
router.include_router(streams.router)
router.include_router(checkin.router)

__all__ = ["router"]
