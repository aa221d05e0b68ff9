"""Check-in lists (the default list of every event, changes, rules), door devices (tokens, revocation, the cache),
attendee search and the offline copy, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from boxoffice.checkin import attendees, devices, lists, status
from boxoffice.checkin.rules import Result, Scanner
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, Forbidden, InvalidInput, NotFound, Unauthorized
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.orders import record_refund
from tests.checkin.conftest import KEYS, SECRET, sell, set_code_version, sold_event
from tests.helpers import make_event, make_ticket


async def test_every_event_has_one_default_list_however_often_it_is_asked(db: Database) -> None:
    event = await make_event(db)
    organizer = Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
    await asyncio.gather(*(lists.ensure_default_list(db, event.id) for _ in range(5)))
    (default,) = await lists.list_lists(db, event.id, organizer)
    assert (default.name, default.all_ticket_types, default.default_for_event) == ("Entrance", True, event.id)
    side = await lists.create_list(db, event.id, {"name": "Side door"}, organizer)
    assert [lst.id for lst in await lists.list_lists(db, event.id, organizer)] == [default.id, side.id]
    # a deleted default list stays deleted
    await lists.delete_list(db, default.id, organizer)
    await lists.ensure_default_list(db, event.id)
    assert [lst.id for lst in await lists.list_lists(db, event.id, organizer)] == [side.id]
    with pytest.raises(NotFound):
        await lists.get_list(db, default.id, organizer)
    with pytest.raises(NotFound):
        await lists.delete_list(db, default.id, organizer)


async def test_list_rules_are_checked_and_bad_input_changes_nothing(db: Database) -> None:
    sold = await sold_event(db)
    org = sold.organizer
    vip = await make_ticket(db, sold.event.id, title="VIP", quantity=5)
    other = await sold_event(db)
    with pytest.raises(InvalidInput) as unknown:
        await lists.create_list(
            db, sold.event.id, {"name": "VIP", "ticket_type_ids": [vip.id, other.ticket_type.id]}, org
        )
    assert [(e.field, e.code) for e in unknown.value.errors] == [("ticket_type_ids[1]", ErrorCode.NOT_FOUND)]
    with pytest.raises(InvalidInput) as empty:
        await lists.create_list(db, sold.event.id, {"name": "Nobody", "ticket_type_ids": []}, org)
    assert [(e.field, e.code) for e in empty.value.errors] == [("ticket_type_ids", ErrorCode.REQUIRED)]
    with pytest.raises(InvalidInput) as blank:
        await lists.create_list(db, sold.event.id, {"name": "  "}, org)
    assert [(e.field, e.code) for e in blank.value.errors] == [("name", ErrorCode.REQUIRED)]
    start = datetime.now(UTC)
    with pytest.raises(InvalidInput) as backwards:
        await lists.create_list(db, sold.event.id, {"name": "x", "starts_at": start, "ends_at": start}, org)
    assert [(e.field, e.code) for e in backwards.value.errors] == [("ends_at", ErrorCode.NOT_ORDERED)]
    assert [lst.id for lst in await lists.list_lists(db, sold.event.id, org)] == [sold.default_list.id]

    vip_list = await lists.create_list(
        db, sold.event.id, {"name": " VIP ", "ticket_type_ids": [vip.id, vip.id], "ends_at": start}, org
    )
    assert (vip_list.name, vip_list.all_ticket_types, vip_list.ticket_type_ids) == ("VIP", False, [vip.id])
    with pytest.raises(InvalidInput) as before_end:
        await lists.update_list(db, vip_list.id, {"starts_at": start + timedelta(hours=1)}, org)
    assert [(e.field, e.code) for e in before_end.value.errors] == [("ends_at", ErrorCode.NOT_ORDERED)]
    changed = await lists.update_list(db, vip_list.id, {"ticket_type_ids": None, "ends_at": None}, org)
    assert (changed.all_ticket_types, changed.ticket_type_ids, changed.ends_at, changed.name) == (True, [], None, "VIP")
    assert changed.revision == vip_list.revision + 1
    # another organizer's event or list is not found; a device manages nothing
    stranger = Scanner(organizer_id="per_stranger", can_undo=True, can_manage=True)
    with pytest.raises(NotFound):
        await lists.create_list(db, sold.event.id, {"name": "Mine"}, stranger)
    with pytest.raises(NotFound):
        await lists.update_list(db, vip_list.id, {"name": "Mine"}, stranger)
    device = Scanner(organizer_id=sold.event.organizer_id, event_id=sold.event.id, list_id=vip_list.id)
    with pytest.raises(Forbidden):
        await lists.update_list(db, vip_list.id, {"name": "Mine"}, device)
    with pytest.raises(Forbidden):
        await lists.list_lists(db, sold.event.id, device)


async def test_device_tokens_authenticate_until_revoked(db: Database) -> None:
    sold = await sold_event(db)
    side = await lists.create_list(db, sold.event.id, {"name": "Side door"}, sold.organizer)
    tokens = devices.DeviceTokens(db)
    phone = await devices.create_device(db, sold.event.id, "  Door   1 ", sold.organizer)
    assert (phone.device.label, phone.device.list_id) == ("Door 1", sold.default_list.id)
    assert phone.token.startswith(devices.TOKEN_PREFIX) and phone.device.prefix == phone.token[:12]
    assert phone.device.token_hash == hashlib.sha256(phone.token.encode()).hexdigest()  # the token is not stored
    scanner = await tokens.authenticate(phone.token)
    assert scanner == Scanner(
        organizer_id=sold.event.organizer_id,
        event_id=sold.event.id,
        list_id=sold.default_list.id,
        device_id=phone.device.id,
        label="Door 1",
    )
    (listed,) = await devices.list_devices(db, sold.event.id, sold.organizer)
    assert listed.last_used_at is not None  # written on first use
    tablet = await devices.create_device(db, sold.event.id, "Tablet", sold.organizer, list_id=side.id)
    assert tablet.device.list_id == side.id
    with pytest.raises(InvalidInput) as foreign:
        other = await sold_event(db)
        await devices.create_device(db, sold.event.id, "x", sold.organizer, list_id=other.default_list.id)
    assert [(e.field, e.code) for e in foreign.value.errors] == [("checkin_list_id", ErrorCode.NOT_FOUND)]
    with pytest.raises(InvalidInput):
        await devices.create_device(db, sold.event.id, " ", sold.organizer)

    # another process keeps what it read for a moment; the revoking process forgets at once
    elsewhere = devices.DeviceTokens(db)
    now = [1000.0]
    elsewhere.clock = lambda: now[0]
    await elsewhere.authenticate(phone.token)
    stranger = Scanner(organizer_id="per_stranger", can_undo=True, can_manage=True)
    with pytest.raises(NotFound):
        await tokens.revoke(phone.device.id, stranger)
    revoked = await tokens.revoke(phone.device.id, sold.organizer)
    assert revoked.revoked_at is not None
    assert (await tokens.revoke(phone.device.id, sold.organizer)).revoked_at == revoked.revoked_at
    with pytest.raises(Unauthorized):
        await tokens.authenticate(phone.token)
    assert (await elsewhere.authenticate(phone.token)).device_id == phone.device.id
    now[0] += devices.CACHE_SECONDS
    with pytest.raises(Unauthorized):
        await elsewhere.authenticate(phone.token)
    for raw in ("bodev_unknown", "bo_an-api-key", "", "bodev_" + "x" * 300):
        with pytest.raises(Unauthorized):
            await tokens.authenticate(raw)
    assert (await tokens.authenticate(tablet.token)).list_id == side.id


async def test_search_finds_holders_by_name_email_order_and_ticket(db: Database) -> None:
    sold = await sold_event(db, n=2, name="Katherine Johnson")
    _, more = await sell(db, sold.event.id, sold.ticket_type.id, 1, name="Dorothy Vaughan", email="dv@nasa.example")
    other = await sold_event(db, name="Katherine Other")
    await sold.scan()
    found = await attendees.search(db, sold.default_list.id, "kathERINE", sold.organizer)
    assert [(a.ticket_id, a.holder_name, a.result) for a in found] == [
        (sold.tickets[0].id, "Katherine Johnson", Result.ALREADY_CHECKED_IN),
        (sold.tickets[1].id, "Katherine Johnson", Result.OK),
    ]
    assert found[0].checked_in_at is not None and found[1].checked_in_at is None
    by_email = await attendees.search(db, sold.default_list.id, "DV@NASA", sold.organizer)
    assert [a.ticket_id for a in by_email] == [more[0].id]
    assert len(await attendees.search(db, sold.default_list.id, sold.order.id, sold.organizer)) == 2
    assert [a.ticket_id for a in await attendees.search(db, sold.default_list.id, more[0].id, sold.organizer)] == [
        more[0].id
    ]
    assert await attendees.search(db, sold.default_list.id, "k", sold.organizer) == []  # too short
    assert await attendees.search(db, sold.default_list.id, "%", sold.organizer) == []  # no wildcards
    assert await attendees.search(db, sold.default_list.id, other.order.id, sold.organizer) == []
    await record_refund(db, sold.order.id, sold.order.total_cents)
    refunded = await attendees.search(db, sold.default_list.id, "johnson", sold.organizer)
    assert [a.result for a in refunded] == [Result.REFUNDED, Result.REFUNDED]
    assert attendees.holder_name("", "who@example.com") == "who@example.com"


async def test_the_offline_copy_holds_digests_states_and_admissions(db: Database) -> None:
    sold = await sold_event(db, n=3)
    vip = await make_ticket(db, sold.event.id, title="VIP", quantity=5)
    _, vip_tickets = await sell(db, sold.event.id, vip.id, 1)
    general = await lists.create_list(
        db, sold.event.id, {"name": "General", "ticket_type_ids": [sold.ticket_type.id]}, sold.organizer
    )
    v0 = await status.offline_version(db, general.id, sold.organizer)
    assert await status.offline_version(db, general.id, sold.organizer) == v0  # nothing changed, same version
    admitted = await sold.scan(list_id=general.id)
    v1 = await status.offline_version(db, general.id, sold.organizer)
    assert v1 != v0
    await set_code_version(db, sold.tickets[2].id, 2)
    v2 = await status.offline_version(db, general.id, sold.organizer)
    assert v2 != v1
    copy = await status.offline_copy(db, general.id, sold.organizer, keys=KEYS)
    assert copy.version == v2
    by_id = {t.id: t for t in copy.tickets}
    assert set(by_id) == {*(t.id for t in sold.tickets), vip_tickets[0].id}
    first = by_id[sold.tickets[0].id]
    assert first.digest == hashlib.sha256(sold.code(0).encode()).hexdigest()
    assert admitted.checkin is not None and first.checked_in_at == admitted.checkin.checked_in_at
    assert (first.state, first.holder_name, first.order_id) == (Result.OK, "Ada Lovelace", sold.order.id)
    new_code = ticket_code(sold.tickets[2].id, 2, SECRET)
    assert by_id[sold.tickets[2].id].digest == hashlib.sha256(new_code.encode()).hexdigest()
    assert by_id[vip_tickets[0].id].state is Result.NOT_ON_LIST
    assert not any(sold.code(i) in repr(copy) for i in range(3))  # digests only, never a code
    await record_refund(db, sold.order.id, sold.order.total_cents)
    assert await status.offline_version(db, general.id, sold.organizer) != v2
    refunded = await status.offline_copy(db, general.id, sold.organizer, keys=KEYS)
    assert {t.state for t in refunded.tickets if t.order_id == sold.order.id} == {Result.REFUNDED}
    await lists.update_list(db, general.id, {"name": "General admission"}, sold.organizer)
    assert await status.offline_version(db, general.id, sold.organizer) != refunded.version
