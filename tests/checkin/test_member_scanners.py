"""A team member's own scanner token (what the console's "Open the scanner" mints), on SQLite and PostgreSQL: it scans
as a device of its one list, labelled with the member; it lasts 16 hours at most and never longer than the console
session; it ends with the session (sign-out), when the member leaves the team or the session works for another
organizer; it reaches only the member's organizer's lists; a member keeps five at most; revoking one signs out the
session that opened it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from boxoffice.accounts import sessions, team
from boxoffice.accounts.roles import Role
from boxoffice.accounts.sessions import SessionView
from boxoffice.accounts.users import user_with_membership
from boxoffice.checkin import devices, lists
from boxoffice.checkin.devices import ConsoleSession, DeviceTokens, open_member_scanner
from boxoffice.checkin.rules import Result, Scanner
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import NotFound, Unauthorized
from boxoffice.web.api.checkin import device_out
from tests.checkin.conftest import SECRET, Sold, sell, sold_event
from tests.helpers import make_event, make_ticket, unique_email


async def door_member(db: Database, role: Role = Role.DOOR) -> tuple[Sold, SessionView, str]:
    """An event of an organizer whose team has a member signed in to the console (their session and its cookie)."""
    organizer = unique_email("org")
    user, _, _ = await user_with_membership(db, organizer, unique_email("door"), role, SECRET)
    event = await make_event(db, organizer=organizer)
    tt = await make_ticket(db, event.id, quantity=10)
    order, tickets = await sell(db, event.id, tt.id, 2, name="Ada Lovelace")
    org = Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
    (default,) = await lists.list_lists(db, event.id, org)
    view, raw = await sessions.start_session(db, user.id, lifetime=timedelta(hours=12))
    return Sold(db, event, tt, order, tickets, default, org), view, raw


def console(view: SessionView) -> ConsoleSession:
    return ConsoleSession(view.user_id, view.session_id, view.email, view.expires_at)


def member_scanner(sold: Sold) -> Scanner:
    return Scanner(organizer_id=sold.event.organizer_id, event_id=sold.event.id)


async def test_a_members_scanner_scans_as_a_device_of_its_list_until_sign_out(db: Database) -> None:
    sold, view, raw = await door_member(db)
    created = await open_member_scanner(db, sold.default_list.id, member_scanner(sold), console(view))
    assert created.device.user_id == view.user_id and created.device.label == view.email
    assert created.device.expires_at == view.expires_at  # the session ends before 16 hours do
    assert device_out(created.device)["expires_at"] == view.expires_at  # the devices API says so
    tokens = DeviceTokens(db)
    scanner = await tokens.authenticate(created.token)
    assert (scanner.list_id, scanner.device_id, scanner.can_undo, scanner.can_manage) == (
        sold.default_list.id,
        created.device.id,
        False,
        False,
    )
    outcome = await sold.scan(scanner=scanner)
    assert outcome.result is Result.OK and outcome.checkin is not None and outcome.checkin.device == view.email
    assert [d.id for d in await devices.open_member_scanners(db, sold.event.id, sold.organizer)] == [created.device.id]
    assert await devices.list_devices(db, sold.event.id, sold.organizer, members=False) == []

    await sessions.end_session(db, raw)
    tokens.forget_session(view.session_id)
    with pytest.raises(Unauthorized):
        await tokens.authenticate(created.token)
    with pytest.raises(Unauthorized):
        await DeviceTokens(db).authenticate(created.token)  # another process, nothing cached
    assert await devices.open_member_scanners(db, sold.event.id, sold.organizer) == []


async def test_it_lasts_16_hours_at_most(db: Database) -> None:
    sold, view, _ = await door_member(db)
    long_session = ConsoleSession(view.user_id, view.session_id, view.email, utcnow() + timedelta(days=30))
    fresh = await open_member_scanner(db, sold.default_list.id, member_scanner(sold), long_session)
    assert fresh.device.expires_at is not None
    assert timedelta(hours=15, minutes=59) < fresh.device.expires_at - utcnow() <= timedelta(hours=16)
    old = await open_member_scanner(
        db, sold.default_list.id, member_scanner(sold), long_session, now=utcnow() - timedelta(hours=17)
    )
    with pytest.raises(Unauthorized):
        await DeviceTokens(db).authenticate(old.token)
    assert (await DeviceTokens(db).authenticate(fresh.token)).device_id == fresh.device.id


async def test_it_ends_when_the_member_leaves_the_team_or_works_for_another_organizer(db: Database) -> None:
    sold, view, _ = await door_member(db)
    created = await open_member_scanner(db, sold.default_list.id, member_scanner(sold), console(view))
    (membership,) = [m for m in await team.list_members(db, sold.event.organizer_id) if m.user_id == view.user_id]
    _, other, _ = await user_with_membership(db, unique_email("org2"), view.email, Role.OWNER, SECRET)
    # the member's session works for another organizer they belong to: this organizer's scanner stops meanwhile
    assert await sessions.choose_organizer(db, view.session_id, view.user_id, other.id)
    with pytest.raises(Unauthorized):
        await DeviceTokens(db).authenticate(created.token)
    assert await sessions.choose_organizer(db, view.session_id, view.user_id, sold.event.organizer_id)
    assert (await DeviceTokens(db).authenticate(created.token)).list_id == sold.default_list.id

    await team.remove_member(db, sold.event.organizer_id, membership.membership_id)
    with pytest.raises(Unauthorized):
        await DeviceTokens(db).authenticate(created.token)


async def test_it_reaches_only_the_members_organizers_lists(db: Database) -> None:
    sold, view, _ = await door_member(db)
    elsewhere = await sold_event(db)
    with pytest.raises(NotFound):
        await open_member_scanner(db, elsewhere.default_list.id, member_scanner(sold), console(view))
    side = await lists.create_list(db, sold.event.id, {"name": "Side door"}, sold.organizer)
    await lists.delete_list(db, side.id, sold.organizer)
    with pytest.raises(NotFound):  # a deleted list takes no scanner
        await open_member_scanner(db, side.id, member_scanner(sold), console(view))


async def test_a_member_keeps_at_most_five_scanners_opening_more_revokes_the_oldest(db: Database) -> None:
    sold, view, _ = await door_member(db)
    opened = [
        await open_member_scanner(db, sold.default_list.id, member_scanner(sold), console(view))
        for _ in range(devices.MEMBER_SCANNERS + 1)
    ]
    with pytest.raises(Unauthorized):
        await DeviceTokens(db).authenticate(opened[0].token)
    for created in opened[1:]:
        assert (await DeviceTokens(db).authenticate(created.token)).device_id == created.device.id
    still = {d.id for d in await devices.open_member_scanners(db, sold.event.id, sold.organizer)}
    assert still == {c.device.id for c in opened[1:]}


async def test_revoking_a_members_scanner_signs_out_the_session_that_opened_it(db: Database) -> None:
    sold, view, raw = await door_member(db)
    lost = await open_member_scanner(db, sold.default_list.id, member_scanner(sold), console(view))
    other = await open_member_scanner(db, sold.default_list.id, member_scanner(sold), console(view))
    tokens = DeviceTokens(db)
    await tokens.authenticate(other.token)  # cached
    await tokens.revoke(lost.device.id, sold.organizer)
    assert await sessions.load_session(db, raw) is None  # signed out: it cannot open another scanner
    for token in (lost.token, other.token):  # the session's other scanners end with it, at once
        with pytest.raises(Unauthorized):
            await tokens.authenticate(token)
