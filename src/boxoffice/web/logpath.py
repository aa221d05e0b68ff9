"""What a log record says about the request: the matched route's template, never the path as sent.

A path may carry a secret (``/manage/password/{token}``: a password or invitation link; an order's or a door's
token), and whoever reads the logs must not be able to use it. Query strings are never logged either."""

from __future__ import annotations

from starlette.requests import Request


def logged_path(request: Request) -> str:
    """The template of the route that answered (``/manage/password/{token}``), or ``"?"`` before routing."""
    template = getattr(request.scope.get("route"), "path", None)
    return template if isinstance(template, str) else "?"


__all__ = ["logged_path"]
