"""The REST API under /api/v1: ``routes`` (organizers, the public and buyers), ``streams`` (live SSE) and ``offers``
(vouchers and waiting lists)."""

from fastapi import APIRouter

from boxoffice.web.api import offers, routes, streams

router = APIRouter()
router.include_router(routes.router)
router.include_router(streams.router)
router.include_router(offers.router)

__all__ = ["router"]
