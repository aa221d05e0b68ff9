"""Who is asking, and may they: the console's session cookie, the signed-in ``Member``, role checks and CSRF.

The contract for console pages (keep these names):

- ``Member`` (user, email, organizer, role) and ``ConsoleMember`` (``Annotated[Member, Depends(console_member)]``):
  a page that takes a ``ConsoleMember`` is for signed-in members; anyone else is sent (303) to
  ``/manage/sign-in?next=<this page>``, and a user who has not chosen an organizer to ``/manage/organizers``.
- ``require(*roles)``: a dependency that answers 403 (a page in words) for the other roles, e.g.
  ``member: Annotated[Member, Depends(require(Role.OWNER, Role.MANAGER))]`` (``Owner``, ``OwnerOrManager`` are
  ready-made). Scope every query by ``member.organizer_id``: another organizer's thing is "not found" (404).
- ``csrf_token(request)``: the token a form carries in a hidden ``csrf_token`` field (``render`` puts it in every
  template's context as ``csrf_token``; ``console/_forms.html`` has ``csrf_field()``). ``CsrfChecked`` verifies it;
  ``ConsoleRoute`` (the route class of every console router) already verifies it on every POST, PUT, PATCH and
  DELETE before the endpoint runs, so a missing or wrong token answers 403 and changes nothing. A script may send it
  in an ``X-CSRF-Token`` header instead.

Sessions are stored server-side (``accounts.sessions``): the cookie ``bo_session`` holds a random token whose
SHA-256 the database keeps (HttpOnly, SameSite=Lax, path ``/manage``, Secure unless ``BOXOFFICE_ENV`` is
``development`` or ``test``). Forms shown before sign-in (sign-in, forgot password, choose a password) carry a token
derived from a cookie of their own (``bo_csrf``: a signed double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from boxoffice.accounts import sessions
from boxoffice.accounts.roles import Role
from boxoffice.accounts.sessions import SessionView
from boxoffice.container import Boxoffice
from boxoffice.errors import NotFound
from boxoffice.web.logpath import logged_path

log = logging.getLogger("boxoffice.console")

SESSION_COOKIE = "bo_session"
FORM_COOKIE = "bo_csrf"  # before sign-in: the forms' tokens are derived from it
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/manage"
SIGN_IN = "/manage/sign-in"
CHOOSE_ORGANIZER = "/manage/organizers"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    organizer_id: str
    role: Role


class SignInRequired(HTTPException):
    """Not signed in: 303 to the sign-in page, back here afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(303, "sign in first", headers={"Location": f"{SIGN_IN}?next={quote(next_path, safe='/')}"})


class OrganizerRequired(HTTPException):
    """Signed in, but working for no organizer yet (or no longer a member of it): 303 to the chooser."""

    def __init__(self, next_path: str) -> None:
        location = f"{CHOOSE_ORGANIZER}?next={quote(next_path, safe='/')}"
        super().__init__(303, "choose an organizer first", headers={"Location": location})


class NotPermitted(HTTPException):
    """The member's role does not allow this page or action."""

    def __init__(self) -> None:
        super().__init__(403, "your role does not allow this")


class CsrfRefused(HTTPException):
    """A state-changing request without the form's token (or with another one): refused, nothing changed."""

    def __init__(self) -> None:
        super().__init__(403, "this form is missing its security token or it has expired: reload the page")


def _box(request: Request) -> Boxoffice:
    box: Boxoffice = request.app.state.box
    return box


def here(request: Request) -> str:
    """This request's path and query, to come back to after signing in."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(value: str | None, default: str = "/manage") -> str:
    """A ``next`` that stays in the console (no other site, no ``//host``, no scheme): else ``default``."""
    if not value or len(value) > 500:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/manage") or value.startswith("//") or "\\" in value:
        return default
    return value


async def load_session(request: Request) -> SessionView | None:
    """The request's session (read once per request, kept on ``request.state``)."""
    if not hasattr(request.state, "console_session"):
        request.state.console_session = await sessions.load_session(
            _box(request).db, request.cookies.get(SESSION_COOKIE)
        )
    view: SessionView | None = request.state.console_session
    return view


def current_session(request: Request) -> SessionView | None:
    """The session ``load_session`` read for this request (``ConsoleRoute`` reads it before every page)."""
    view: SessionView | None = getattr(request.state, "console_session", None)
    return view


async def console_user(request: Request) -> SessionView:
    """Signed in, whether or not an organizer is chosen (the organizer chooser, sign-out)."""
    view = await load_session(request)
    if view is None:
        raise SignInRequired(here(request) if request.method in SAFE_METHODS else "/manage")
    return view


ConsoleUser = Annotated[SessionView, Depends(console_user)]


async def console_member(request: Request) -> Member:
    view = await console_user(request)
    if view.organizer_id is None or view.role is None:
        raise OrganizerRequired(here(request) if request.method in SAFE_METHODS else "/manage")
    return Member(user_id=view.user_id, email=view.email, organizer_id=view.organizer_id, role=view.role)


ConsoleMember = Annotated[Member, Depends(console_member)]


def require(*roles: Role) -> Callable[..., Awaitable[Member]]:
    """A dependency: the signed-in member when their role is one of ``roles``, else 403."""
    allowed = frozenset(roles)

    async def member_with_role(member: ConsoleMember) -> Member:
        if member.role not in allowed:
            raise NotPermitted()
        return member

    return member_with_role


Owner = Annotated[Member, Depends(require(Role.OWNER))]
OwnerOrManager = Annotated[Member, Depends(require(Role.OWNER, Role.MANAGER))]


def member_still_valid(request: Request, member: Member, *roles: Role) -> Callable[[], Awaitable[bool]]:
    """For a console page's live stream: whether this request's session still works for ``member``'s organizer
    with one of ``roles`` (signed out, a new password, removed from the team, another role or organizer: no).
    Cached per session in ``live_checks`` (one query per session every 2 seconds, whatever the messages); whatever
    ends or changes a session in this process calls ``live_checks.forget()``."""
    box, raw, allowed = _box(request), request.cookies.get(SESSION_COOKIE), frozenset(roles)
    view = current_session(request)
    key = "session:" + (view.session_id if view is not None else "")

    async def holds() -> bool:
        now = await sessions.load_session(box.db, raw)
        return (
            now is not None
            and view is not None
            and now.session_id == view.session_id
            and now.organizer_id == member.organizer_id
            and now.role in allowed
        )

    async def still_valid() -> bool:
        return await box.live_checks.check(key, holds)

    return still_valid


def sessions_changed(request: Request, *, session_id: str | None = None) -> None:
    """A session ended or now works otherwise (sign-out, a new password, a member removed or their role changed):
    this process's live streams ask again at their next frame, and the ended session's scanners stop (or, without
    ``session_id``, every scanner token is read again)."""
    box = _box(request)
    box.live_checks.forget()
    if session_id is not None:
        box.devices.forget_session(session_id)
    else:
        box.devices.forget_all()


# -- CSRF ----------------------------------------------------------------------------------------------------------


def _form_token(request: Request, cookie: str) -> str:
    key = _box(request).settings.secret_bytes
    return hmac.new(key, b"console-form:" + cookie.encode(), hashlib.sha256).hexdigest()


def _form_cookie(request: Request) -> str:
    """The pre-sign-in cookie's value: the browser's, or a new one that the response will set."""
    value = request.cookies.get(FORM_COOKIE) or getattr(request.state, "new_form_cookie", None)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
        request.state.new_form_cookie = value
    return value


def csrf_token(request: Request) -> str:
    """The token this request's forms carry: the session's, or before sign-in one derived from ``bo_csrf``."""
    view = current_session(request)
    if view is not None:
        return view.csrf_token
    return _form_token(request, _form_cookie(request))


async def _sent_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return ""
    form: FormData = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


async def verify_csrf(request: Request, *, before_sign_in: bool = False) -> None:
    """Raise ``CsrfRefused`` unless a state-changing request carries its token: the session's when signed in;
    on the forms shown before sign-in (``before_sign_in``), the one derived from the ``bo_csrf`` cookie also."""
    if request.method in SAFE_METHODS or getattr(request.state, "csrf_checked", False):
        return
    sent = await _sent_token(request)
    view = await load_session(request)
    expected = [view.csrf_token] if view is not None else []
    cookie = request.cookies.get(FORM_COOKIE)
    if (before_sign_in or view is None) and cookie and len(cookie) <= 100:
        expected.append(_form_token(request, cookie))
    if not sent or not any(hmac.compare_digest(sent.encode(), token.encode()) for token in expected):
        log.warning("console request refused: CSRF token missing or wrong", extra={"path": logged_path(request)})
        raise CsrfRefused()
    request.state.csrf_checked = True


async def check_csrf(request: Request) -> None:
    route = request.scope.get("route")
    await verify_csrf(request, before_sign_in=getattr(route, "before_sign_in", False))


CsrfChecked = Annotated[None, Depends(check_csrf)]


# -- cookies -------------------------------------------------------------------------------------------------------


def secure_cookies(request: Request) -> bool:
    return _box(request).settings.env not in ("development", "test")


def set_session_cookie(request: Request, response: Response, raw: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=int(_box(request).settings.session_hours * 3600),
        path=COOKIE_PATH,
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, secure=secure_cookies(request), httponly=True, samesite="lax"
    )


def _set_form_cookie(request: Request, response: Response) -> None:
    value = getattr(request.state, "new_form_cookie", None)
    if value:
        response.set_cookie(
            FORM_COOKIE, value, path=COOKIE_PATH, secure=secure_cookies(request), httponly=True, samesite="lax"
        )


# -- the route class -----------------------------------------------------------------------------------------------


class ConsoleRoute(APIRoute):
    """The route class of every console router: reads the session, verifies CSRF on every state-changing request
    before the endpoint runs, turns the access refusals into a redirect or a page in words, never caches, and
    shows an unexpected error as a page (logged) rather than a problem document."""

    before_sign_in = False  # True for the forms shown before sign-in (see ``OpenConsoleRoute``)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        before_sign_in = self.before_sign_in

        async def guarded(request: Request) -> Response:
            from boxoffice.web.console.render import bad_link_page, not_found_page, refusal_page, trouble_page

            try:
                await load_session(request)
                await verify_csrf(request, before_sign_in=before_sign_in)
                response = await handler(request)
            except (SignInRequired, OrganizerRequired) as exc:
                response = RedirectResponse(dict(exc.headers or {})["Location"], status_code=303)
            except (NotPermitted, CsrfRefused) as exc:
                response = refusal_page(request, exc)
            except NotFound:  # another organizer's thing, or none: the same answer
                response = not_found_page(request)
            except RequestValidationError:  # a query or path value out of its bounds (a mangled link)
                response = bad_link_page(request)
            except HTTPException:
                raise
            except ClientDisconnect:  # the browser left before its form arrived (a preview it no longer waits for)
                response = Response(status_code=400)
            except Exception:
                log.exception("console page failed", extra={"path": logged_path(request)})
                response = trouble_page(request)
            _set_form_cookie(request, response)
            for name, value in NO_STORE.items():
                response.headers.setdefault(name, value)
            return response

        return guarded


class OpenConsoleRoute(ConsoleRoute):
    """For the forms shown before sign-in: their token comes from the ``bo_csrf`` cookie."""

    before_sign_in = True
