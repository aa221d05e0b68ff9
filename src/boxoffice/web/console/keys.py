"""The API keys page (owners only): the organizer's keys (name, prefix, created, last used), a new key (its
plaintext shown once, on the answer to the form, never again), revoking one (refused by every process at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.accounts import service as keys
from boxoffice.accounts.models import ApiKey
from boxoffice.errors import InvalidInput
from boxoffice.web.console.access import ConsoleRoute, Member, Owner, _box
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

NOTICES = {"revoked": "API key revoked: requests with it are refused from now on."}


async def _page(
    request: Request,
    member: Member,
    *,
    form: ConsoleForm | None = None,
    created: tuple[ApiKey, str] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    listed = await keys.list_api_keys(_box(request).db, member.organizer_id)
    context = {
        "keys": listed,
        "form": form or ConsoleForm(prefix="key-"),
        "created": {"key": created[0], "raw": created[1]} if created else None,
        "notice": notice,
        "api_base": _box(request).public_url + "/api/v1",
    }
    return render(request, "console/api_keys.html", context, status=status)


@router.get("/manage/api-keys")
async def api_keys_page(
    request: Request, member: Owner, done: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    return await _page(request, member, notice=NOTICES.get(done or ""))


@router.post("/manage/api-keys")
async def create_key(request: Request, member: Owner) -> Response:
    form = await ConsoleForm.read(request, prefix="key-")
    try:
        created = await keys.create_key_for(_box(request).db, member.organizer_id, name=form.get("name"))
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return await _page(request, member, form=form.shown(), status=422)
    # The answer itself shows the key (no redirect: it must not sit in a URL or be shown twice); never cached.
    return await _page(request, member, created=created, status=201)


@router.post("/manage/api-keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, member: Owner) -> Response:
    await keys.revoke_api_key(_box(request).db, key_id[:64], organizer_id=member.organizer_id)
    _box(request).live_checks.forget()  # its open streams end
    return RedirectResponse("/manage/api-keys?done=revoked", status_code=303)
