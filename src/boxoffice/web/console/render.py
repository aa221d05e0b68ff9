"""Rendering console pages: ``render(request, template, context)`` adds what every console page needs (the member,
the CSRF token, the navigation, the organizer's name, the sandbox banner) and never lets a page be cached.

Templates live in ``web/templates/console/`` and extend ``console/base.html`` (blocks ``title`` and ``content``);
``console/_forms.html`` has the form macros (``csrf_field()``, a field with its errors, the error summary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from boxoffice.accounts.roles import Action
from boxoffice.web.console.access import (
    NO_STORE,
    CsrfRefused,
    Member,
    NotPermitted,
    csrf_token,
    current_session,
)
from boxoffice.web.pages.render import SANDBOX_BANNER, _box, templates


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    action: Action  # shown to the roles that permit it


# The console's navigation, in order; a new section appends its item here (Sign out is always last, in base.html).
NAV: list[NavItem] = [
    NavItem("/manage", "Events", Action.VIEW_EVENTS),
    NavItem("/manage/team", "Team", Action.MANAGE_TEAM),
    NavItem("/manage/api-keys", "API keys", Action.MANAGE_API_KEYS),
    NavItem("/manage/webhooks", "Webhooks", Action.MANAGE_WEBHOOKS),
]


def _current(href: str, path: str) -> bool:
    if href == "/manage":
        return path == "/manage" or path.startswith("/manage/events")
    return path == href or path.startswith(href + "/")


def member_of(request: Request) -> Member | None:
    view = current_session(request)
    if view is None or view.organizer_id is None or view.role is None:
        return None
    return Member(user_id=view.user_id, email=view.email, organizer_id=view.organizer_id, role=view.role)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The console page ``template`` with ``context``, plus ``member`` (or None), ``session``, ``csrf_token``,
    ``nav`` (the items the member's role permits, each with ``current``), ``organizer_name``, ``can_switch``."""
    view = current_session(request)
    member = member_of(request)
    nav = [
        {"href": item.href, "label": item.label, "current": _current(item.href, request.url.path)}
        for item in NAV
        if member is not None and member.role.permits(item.action)
    ]
    box = _box(request)
    values: dict[str, Any] = {
        "sandbox": box.stripe.is_sandbox,
        "sandbox_banner": SANDBOX_BANNER,
        "member": member,
        "session": view,
        "csrf_token": csrf_token(request),
        "nav": nav,
        "organizer_name": view.organizer_name if view is not None else "",
        "can_switch": view is not None and view.organizer_count > 1,
        **(context or {}),
    }
    response: HTMLResponse = templates.TemplateResponse(
        request, template, values, status_code=status, headers={**NO_STORE, **(headers or {})}
    )
    return response


def message_page(
    request: Request, status: int, heading: str, message: str, *, link: tuple[str, str] | None = None
) -> HTMLResponse:
    return render(
        request, "console/message.html", {"heading": heading, "message": message, "link": link}, status=status
    )


def refusal_page(request: Request, exc: NotPermitted | CsrfRefused) -> HTMLResponse:
    if isinstance(exc, CsrfRefused):
        return message_page(
            request,
            403,
            "This form has expired",
            "Nothing was changed: the form was missing its security token, or it was opened in another session. "
            "Please go back, reload the page and try again.",
            link=(request.url.path, "Reload the page"),
        )
    return message_page(
        request,
        403,
        "Not allowed",
        "Your role in this team does not allow this page. An owner of the team can change your role.",
        link=("/manage", "Back to the console"),
    )


def not_found_page(request: Request) -> HTMLResponse:
    return message_page(
        request,
        404,
        "Not found",
        "We could not find this page in your team's console.",
        link=("/manage", "Back to events"),
    )


def bad_link_page(request: Request) -> HTMLResponse:
    return message_page(
        request, 400, "This link is not valid", "Part of this address is not valid.", link=("/manage", "Back to events")
    )


def trouble_page(request: Request) -> HTMLResponse:
    return message_page(
        request, 500, "Something went wrong", "Something went wrong on our side. Please try again in a minute."
    )
