"""The team page (owners only): the members and their roles, invitations by email, role changes, removals.
The last owner can be neither demoted nor removed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.accounts import team
from boxoffice.accounts.errors import AlreadyMember, LastOwner
from boxoffice.accounts.roles import DESCRIPTIONS, LABELS, Role, parse_role
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events.service import normalize_email
from boxoffice.web.console.access import ConsoleRoute, Member, Owner, _box, sessions_changed
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

ROLE_OPTIONS = [(role.value, LABELS[role]) for role in Role]
ROLE_HINT = " ".join(f"{role.value.capitalize()}: {DESCRIPTIONS[role]}." for role in Role)
NOTICES = {
    "invited": "Invitation sent: the new member gets an email with a link to sign in.",
    "role-changed": "Role changed.",
    "removed": "Member removed: they can no longer open this team's console.",
}
LAST_OWNER = "The team needs at least one owner: make someone else owner first."


async def _page(
    request: Request,
    member: Member,
    *,
    invite: ConsoleForm | None = None,
    problem: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    members = await team.list_members(_box(request).db, member.organizer_id)
    context: dict[str, Any] = {
        "members": members,
        "owners": sum(1 for m in members if m.role == Role.OWNER),
        "invite": invite or ConsoleForm(values={"role": Role.MANAGER.value}, prefix="invite-"),
        "role_options": ROLE_OPTIONS,
        "role_hint": ROLE_HINT,
        "problem": problem,
        "notice": notice,
    }
    return render(request, "console/team.html", context, status=status)


@router.get("/manage/team")
async def team_page(
    request: Request, member: Owner, done: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    return await _page(request, member, notice=NOTICES.get(done or ""))


def _role(form: ConsoleForm) -> Role | None:
    role = parse_role(form.get("role"))
    if role is None:
        form.add_errors([FieldError("role", "is not a role", code=ErrorCode.INVALID_CHOICE)])
    return role


@router.post("/manage/team/invite")
async def invite(request: Request, member: Owner) -> Response:
    box = _box(request)
    form = await ConsoleForm.read(request, prefix="invite-")
    try:
        normalize_email(form.get("email"))
    except InvalidInput as exc:
        form.add_errors(exc.errors)
    role = _role(form)
    if not form.ok or role is None:
        return await _page(request, member, invite=form.shown(), status=422)
    try:
        await team.invite(
            box.db,
            member.organizer_id,
            form.get("email"),
            role,
            invited_by=member.email,
            secret=box.settings.secret_bytes,
        )
    except AlreadyMember:
        form.add("This person is already in the team: change their role in the list instead.", "email")
        return await _page(request, member, invite=form.shown(), status=409)
    return RedirectResponse("/manage/team?done=invited", status_code=303)


@router.post("/manage/team/{membership_id}/role")
async def change_role(request: Request, membership_id: str, member: Owner) -> Response:
    form = await ConsoleForm.read(request)
    role = _role(form)
    if role is None:
        return await _page(request, member, problem=form.problems[0].message, status=422)
    try:
        await team.change_role(_box(request).db, member.organizer_id, membership_id[:64], role)
        sessions_changed(request)  # a role that no longer may: its scanners and streams end
    except LastOwner:
        return await _page(request, member, problem=LAST_OWNER, status=409)
    return RedirectResponse("/manage/team?done=role-changed", status_code=303)


@router.post("/manage/team/{membership_id}/remove")
async def remove(request: Request, membership_id: str, member: Owner) -> Response:
    try:
        await team.remove_member(_box(request).db, member.organizer_id, membership_id[:64])
        sessions_changed(request)  # their scanners and streams end with their membership
    except LastOwner:
        return await _page(request, member, problem=LAST_OWNER, status=409)
    return RedirectResponse("/manage/team?done=removed", status_code=303)
