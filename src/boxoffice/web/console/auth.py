"""Signing in and out, "forgot your password?", and the one-time link's page that sets a password.

These forms are shown before sign-in: their CSRF token comes from the ``bo_csrf`` cookie (``OpenConsoleRoute``).
A failed sign-in says "wrong email or password" whichever was wrong; too many failures answer 429 with
``Retry-After``. The forgot-password page answers the same whether or not the address has an account.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.accounts import passwords, sessions, users
from boxoffice.accounts.errors import InvalidCredentials, InvalidLink, SignInThrottled
from boxoffice.accounts.throttle import ThrottleRule
from boxoffice.accounts.users import SignInRules, TokenPurpose
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events.service import normalize_email
from boxoffice.web.clients import address_key, client_address
from boxoffice.web.console.access import (
    SESSION_COOKIE,
    OpenConsoleRoute,
    _box,
    current_session,
    safe_next,
    sessions_changed,
    set_session_cookie,
)
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import message_page, render

router = APIRouter(include_in_schema=False, route_class=OpenConsoleRoute)

NOTICES = {
    "signed-out": "You are signed out.",
    "password-set": "Your password is set.",
}


def sign_in_rules(request: Request) -> SignInRules:
    settings = _box(request).settings
    window = timedelta(seconds=settings.sign_in_window_seconds)
    return SignInRules(
        account=ThrottleRule(settings.sign_in_failures_per_account, window),
        address=ThrottleRule(settings.sign_in_failures_per_address, window),
    )


def _minutes(seconds: int) -> str:
    minutes = max(round(seconds / 60), 1)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@router.get("/manage/sign-in")
async def sign_in_page(
    request: Request,
    next: str | None = Query(None, max_length=500),
    done: str | None = Query(None, max_length=32),
) -> Response:
    if current_session(request) is not None and done is None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request,
        "console/sign_in.html",
        {"form": ConsoleForm(), "next": safe_next(next), "notice": NOTICES.get(done or "")},
    )


@router.post("/manage/sign-in")
async def sign_in(request: Request) -> Response:
    box = _box(request)
    form = await ConsoleForm.read(request)
    target = safe_next(form.get("next"))
    email, password = form.get("email"), form.raw("password")
    if not email:
        form.add("Please enter your email address", "email")
    if not password:
        form.add("Please enter your password", "password")
    if not form.ok:
        return render(request, "console/sign_in.html", {"form": form.shown(), "next": target}, status=422)
    try:
        user = await users.sign_in(
            box.db,
            email,
            password,
            secret=box.settings.secret_bytes,
            address_hash=address_key(box.settings.secret_bytes, client_address(request)),
            rules=sign_in_rules(request),
        )
    except SignInThrottled as exc:
        form.add(f"Too many failed sign-ins. Please wait {_minutes(exc.retry_after)} and try again.")
        return render(
            request,
            "console/sign_in.html",
            {"form": form.shown(), "next": target},
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except InvalidCredentials:
        form.add("Wrong email or password. Please check both and try again.", "email")
        return render(request, "console/sign_in.html", {"form": form.shown(), "next": target}, status=401)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await sessions.end_session(box.db, old)  # a new sign-in never reuses a session
        previous = current_session(request)
        sessions_changed(request, session_id=previous.session_id if previous is not None else None)
    _, raw = await sessions.start_session(box.db, user.id, lifetime=timedelta(hours=box.settings.session_hours))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, raw)
    return response


@router.get("/manage/forgot-password")
async def forgot_page(request: Request) -> Response:
    return render(request, "console/forgot.html", {"form": ConsoleForm(), "sent": False})


@router.post("/manage/forgot-password")
async def forgot(request: Request) -> Response:
    box = _box(request)
    form = await ConsoleForm.read(request)
    try:
        normalize_email(form.get("email"))
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return render(request, "console/forgot.html", {"form": form.shown(), "sent": False}, status=422)
    await users.request_password_reset(box.db, form.get("email"), box.settings.secret_bytes)
    return render(request, "console/forgot.html", {"form": form.shown(), "sent": True})


_HEADINGS = {
    TokenPurpose.SET_PASSWORD: "Choose your password",
    TokenPurpose.RESET: "Choose a new password",
    TokenPurpose.INVITATION: "Join the team: choose your password",
}


def _link_expired(request: Request) -> Response:
    return message_page(
        request,
        404,
        "This link has expired",
        "This link was used already or is older than 24 hours. Ask for a new one: "
        '"Forgot your password?" on the sign-in page emails you a link.',
        link=("/manage/forgot-password", "Email me a new link"),
    )


@router.get("/manage/password/{token}")
async def password_page(request: Request, token: str) -> Response:
    try:
        link = await users.check_link(_box(request).db, token)
    except InvalidLink:
        return _link_expired(request)
    return render(
        request, "console/password.html", {"form": ConsoleForm(), "link": link, "heading": _HEADINGS[link.purpose]}
    )


@router.post("/manage/password/{token}")
async def set_password(request: Request, token: str) -> Response:
    box = _box(request)
    try:
        link = await users.check_link(box.db, token)
    except InvalidLink:
        return _link_expired(request)
    form = await ConsoleForm.read(request)
    password = form.raw("password")
    context = {"link": link, "heading": _HEADINGS[link.purpose]}
    try:
        passwords.check_new_password(password)
    except InvalidInput as exc:
        form.add_errors(exc.errors)
    if form.ok and password != form.raw("password_confirm"):
        form.add_errors([FieldError("password_confirm", "differs from the password", code=ErrorCode.CONFLICT_WITH)])
    if not form.ok:
        return render(request, "console/password.html", {"form": form.shown(), **context}, status=422)
    try:
        user = await users.set_password_with_link(box.db, token, password)
    except InvalidLink:
        return _link_expired(request)
    await sessions.end_session(box.db, request.cookies.get(SESSION_COOKIE))  # whoever was signed in here before
    sessions_changed(request)  # every session of the user ended: their scanners and streams end with them
    _, raw = await sessions.start_session(box.db, user.id, lifetime=timedelta(hours=box.settings.session_hours))
    response = RedirectResponse("/manage?done=password-set", status_code=303)
    set_session_cookie(request, response, raw)
    return response
