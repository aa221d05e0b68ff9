"""The REST API under /api/v1: ``routes`` (organizers, the public and buyers), ``keys`` (API keys) and ``streams``
(live SSE)."""

from fastapi import APIRouter

from boxoffice.web.api import keys, routes, streams

router = APIRouter()
router.include_router(routes.router)
router.include_router(keys.router)
router.include_router(streams.router)

__all__ = ["router"]
