"""The REST API under /api/v1: ``routes`` (organizers, the public and buyers), ``streams`` (live SSE) and
``webhooks`` (outgoing webhook endpoints and their delivery logs)."""

from fastapi import APIRouter

from boxoffice.web.api import routes, streams, webhooks

router = APIRouter()
router.include_router(routes.router)
router.include_router(streams.router)
router.include_router(webhooks.router)

__all__ = ["router"]
