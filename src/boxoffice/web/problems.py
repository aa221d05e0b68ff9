"""RFC 9457 problem details for every error the HTTP interface returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from boxoffice.db import session_ended
from boxoffice.errors import (
    BoxofficeError,
    Conflict,
    ErrorCode,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    RetryLater,
    SalesClosed,
    ServiceUnavailable,
    SoldOut,
    TooManyRequests,
    Unauthorized,
    VoucherUnavailable,
)
from boxoffice.payments.gateway import StripeFailure, StripeKeyRejected, StripeUnavailable

log = logging.getLogger("boxoffice.http")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://boxoffice.dev/problems/"


def pointer(field: str) -> str:
    """``lines[0].quantity`` -> ``#/lines/0/quantity`` (a JSON pointer into the request body); ``body``, the body as
    a whole, is ``#``."""
    if field == "body":
        return "#"
    return "#/" + field.replace("[", "/").replace("]", "").replace(".", "/")


def _line_and_column(body: bytes, position: int) -> tuple[int, int]:
    """1-based line and column of the character at ``position`` of a UTF-8 body."""
    before = body.decode("utf-8", "replace")[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = [
            {
                "field": e.field,
                "pointer": pointer(e.field),
                "code": e.code.value,
                "detail": e.message,
                **dict(e.amounts),
            }
            for e in errors
        ]
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_from_loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        if part.isdigit():
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "body"


# pydantic's error types -> our codes (anything else: ``invalid``); see ``validation_error``
_PYDANTIC_CODES: dict[str, ErrorCode] = {
    "missing": ErrorCode.REQUIRED,
    "string_too_long": ErrorCode.TOO_LONG,
    "too_long": ErrorCode.TOO_LONG,
    "string_too_short": ErrorCode.TOO_SHORT,
    "too_short": ErrorCode.TOO_SHORT,
    "int_parsing": ErrorCode.NOT_INTEGER,
    "int_type": ErrorCode.NOT_INTEGER,
    "int_from_float": ErrorCode.NOT_INTEGER,
    "greater_than_equal": ErrorCode.BELOW_MINIMUM,
    "greater_than": ErrorCode.BELOW_MINIMUM,
    "less_than_equal": ErrorCode.ABOVE_MAXIMUM,
    "less_than": ErrorCode.ABOVE_MAXIMUM,
    "literal_error": ErrorCode.INVALID_CHOICE,
    "enum": ErrorCode.INVALID_CHOICE,
    "extra_forbidden": ErrorCode.UNKNOWN_FIELD,
    "timezone_aware": ErrorCode.NO_TIMEZONE,
    "datetime_parsing": ErrorCode.INVALID_FORMAT,
    "datetime_from_date_parsing": ErrorCode.INVALID_FORMAT,
    "date_parsing": ErrorCode.INVALID_FORMAT,
    "string_pattern_mismatch": ErrorCode.INVALID_FORMAT,
    "string_type": ErrorCode.INVALID_TYPE,
    "bool_type": ErrorCode.INVALID_TYPE,
    "bool_parsing": ErrorCode.INVALID_TYPE,
    "list_type": ErrorCode.INVALID_TYPE,
    "dict_type": ErrorCode.INVALID_TYPE,
    "model_type": ErrorCode.INVALID_TYPE,
    "model_attributes_type": ErrorCode.INVALID_TYPE,
    "datetime_type": ErrorCode.INVALID_TYPE,
    "json_invalid": ErrorCode.INVALID_JSON,
    # the rules of web/api/schemas.py
    "datetime_format": ErrorCode.INVALID_FORMAT,
    "not_null": ErrorCode.INVALID_TYPE,
}
# the bound a pydantic error quotes, given beside its code as our rules give theirs
_PYDANTIC_AMOUNTS = {"ge": "minimum", "le": "maximum", "max_length": "maximum"}


def validation_error(error: Mapping[str, Any]) -> FieldError:
    """One pydantic request validation error as a field error with its code. A length of at least one is the
    domain's ``required`` (an empty title, an order without lines), as the domain rules say it."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    code = _PYDANTIC_CODES.get(kind, ErrorCode.INVALID)
    if code is ErrorCode.TOO_SHORT and ctx.get("min_length") == 1:
        code = ErrorCode.REQUIRED
    amounts = tuple(
        (name, value)
        for key, name in _PYDANTIC_AMOUNTS.items()
        if isinstance(value := ctx.get(key), int) and not isinstance(value, bool)
    )
    if code is ErrorCode.TOO_SHORT and isinstance(ctx.get("min_length"), int):
        amounts += (("minimum", ctx["min_length"]),)
    return FieldError(
        _field_from_loc(tuple(error.get("loc", ()))), str(error.get("msg", "invalid")), amounts, code=code
    )


def status_for(exc: BoxofficeError) -> int:
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, TooManyRequests):
        return 429
    if isinstance(exc, StripeKeyRejected | StripeUnavailable | ServiceUnavailable):
        return 503
    if isinstance(exc, StripeFailure):
        return 502
    return 400


def boxoffice_problem(exc: BoxofficeError) -> JSONResponse:
    status = status_for(exc)
    errors = exc.field_errors() or None
    headers = {"Retry-After": "5"} if status == 503 else None
    if isinstance(exc, RetryLater):
        headers = {"Retry-After": str(exc.retry_after)}
    # what the error carries besides its message (a link, a provider's code), as members of the problem
    extra: dict[str, Any] = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)}
    if isinstance(exc, SoldOut):
        extra = {"ticket_type_id": exc.ticket_type_id, "available": exc.available}
    elif isinstance(exc, SalesClosed):
        extra = {}
    elif isinstance(exc, VoucherUnavailable):
        extra = {"remaining": exc.remaining}
    elif isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
        extra = {"limit": exc.limit, "retry_after": exc.retry_after}
    return problem(status, exc.code, exc.title, exc.detail, errors=errors, headers=headers, **extra)


# SQLSTATEs of a database that cannot serve now but will again: a session the server ended (connection exceptions,
# a server shutting down or starting up: ``db.session_ended``) and insufficient resources (class 53: "too many
# clients already", too many connections for a role, out of memory, disk full).
_OUT_OF_RESOURCES = "53"


def refused_for_now(exc: DBAPIError) -> bool:
    """Whether a database error says "not now" (503, retry later) rather than a fault in Boxoffice (500): SQLite's
    busy database and every other ``OperationalError``, a lost connection, or a PostgreSQL refusal by its SQLSTATE
    (asyncpg's ``TooManyConnectionsError`` reaches here as a plain ``DBAPIError`` carrying 53300)."""
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(state, str) and (state.startswith(_OUT_OF_RESOURCES) or session_ended(state))


def database_unavailable() -> JSONResponse:
    return problem(
        503,
        "unavailable",
        "Service unavailable",
        "the database is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at this request's path. Starlette's 405 names the methods of the
    first route that matched the path only; a path served by several routes (``GET`` and ``PATCH`` of one resource)
    needs them all in ``Allow`` (RFC 9110, section 15.5.6). Mounted applications (static files, the sandbox) answer
    their own 405s."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(BoxofficeError)
    async def _domain(_: Request, exc: BoxofficeError) -> JSONResponse:
        return boxoffice_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:  # not JSON at all: where it breaks, by line and column (not a pointer into nothing)
            loc = tuple(broken.get("loc", ()))
            position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            line, column = _line_and_column(await request.body(), position)
            reason = str((broken.get("ctx") or {}).get("error") or "invalid JSON")
            message = f"is not valid JSON: {reason} at line {line}, column {column}"
            return problem(
                400,
                "malformed",
                "Malformed request",
                f"The request body {message}",
                errors=[FieldError("body", message, code=ErrorCode.INVALID_JSON)],
                line=line,
                column=column,
            )
        errors = [validation_error(e) for e in exc.errors()]
        return problem(
            422, "invalid-input", "Invalid input", "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: "malformed",
            401: "unauthorized",
            403: "forbidden",
            404: "not-found",
            405: "method-not-allowed",
            413: "too-large",
        }
        code = codes.get(exc.status_code, "http-error")
        headers = dict(exc.headers) if exc.headers else None
        methods = allowed_methods(request) if exc.status_code == 405 else []
        if methods:
            headers = {k: v for k, v in (headers or {}).items() if k.lower() != "allow"} | {"Allow": ", ".join(methods)}
        return problem(exc.status_code, code, code.replace("-", " ").capitalize(), str(exc.detail), headers=headers)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(ConnectionError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return database_unavailable()

    @app.exception_handler(DBAPIError)
    async def _dbapi(_: Request, exc: DBAPIError) -> JSONResponse:
        if refused_for_now(exc):
            log.warning("database unavailable: %s", type(exc.orig or exc).__name__)
            return database_unavailable()
        log.exception("database error")
        return problem(500, "internal", "Internal error", "an unexpected error occurred")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "internal", "Internal error", "an unexpected error occurred")
