"""The REST API under /api/v1."""

from boxoffice.web.api.routes import router

__all__ = ["router"]
