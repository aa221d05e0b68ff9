"""The REST API under /api/v1: ``routes`` (organizers, the public and buyers) and ``streams`` (live SSE)."""

from fastapi import APIRouter

from boxoffice.web.api import routes, streams

router = APIRouter()
router.include_router(routes.router)
router.include_router(streams.router)

__all__ = ["router"]
