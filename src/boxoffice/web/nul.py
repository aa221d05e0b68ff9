"""No U+0000 in a request's path or query: PostgreSQL can neither store nor compare text holding it (the query
fails), so such a request is refused before it reaches a route, the same way on every database. No id has one, so a
path with it is not found (404); a query parameter with it is invalid input (422 naming the parameter). The OpenAPI
document says so: every string parameter has the pattern ``^[^\\u0000]*$`` (web/api/openapi.py). Request bodies are
checked by their models (web/api/schemas.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from boxoffice.errors import ErrorCode, FieldError
from boxoffice.web.problems import problem


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string") or b""
            if "\x00" in scope["path"]:
                await problem(404, "not-found", "Not found", "not found")(scope, receive, send)
                return
            if b"%00" in query or b"\x00" in query:
                names = sorted({k for k, v in parse_qsl(query.decode("latin-1"), True) if "\x00" in k + v}) or ["query"]
                errors = [FieldError(name, "must not contain U+0000", code=ErrorCode.INVALID_FORMAT) for name in names]
                detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
                await problem(422, "invalid-input", "Invalid input", detail, errors=errors)(scope, receive, send)
                return
        await self.app(scope, receive, send)
