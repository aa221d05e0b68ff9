"""Accounts on both databases: users and memberships, one-time links, sign-in throttling, the last owner, sessions,
password reset emails and API keys' last use."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from boxoffice.accounts import passwords, sessions, team, throttle, users
from boxoffice.accounts.errors import AlreadyMember, InvalidCredentials, InvalidLink, LastOwner, SignInThrottled
from boxoffice.accounts.models import AccountToken, ApiKey, SignInFailure, User
from boxoffice.accounts.roles import Role
from boxoffice.accounts.service import authenticate, create_api_key, list_api_keys, revoke_api_key
from boxoffice.accounts.users import SignInRules, TokenPurpose
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import NotFound
from boxoffice.outbox.models import OutboxMessage
from tests.accounts.support import PASSWORD, make_member
from tests.helpers import unique_email

SECRET = b"test-secret-key-for-signing-ticket-codes"
HOUR = timedelta(hours=1)
RULES = SignInRules(account=throttle.ThrottleRule(3, HOUR), address=throttle.ThrottleRule(5, HOUR))


def address() -> str:
    return throttle.account_key(SECRET, unique_email("address"))[-32:]  # a distinct address hash per test


async def password_of(db: Database, user_id: str) -> str | None:
    async with db.read() as session:
        return await session.scalar(select(User.password_hash).where(User.id == user_id))


async def test_user_create_makes_the_organizer_the_user_a_member_and_a_link_that_works_once(db: Database) -> None:
    organizer, email = unique_email("org"), unique_email("owner")
    user, person, raw = await users.user_with_membership(db, organizer, email.upper(), Role.OWNER, SECRET)
    assert person.email_normalized == organizer and user.email_normalized == email and user.password_hash is None
    link = await users.check_link(db, raw)
    assert (link.purpose, link.email) == (TokenPurpose.SET_PASSWORD, email.upper())
    assert link.expires_at - utcnow() <= timedelta(hours=24)
    assert [(m.role, p.id) for m, p in await users.memberships_of(db, user.id)] == [("owner", person.id)]

    await users.set_password_with_link(db, raw, PASSWORD)
    assert (await password_of(db, user.id) or "").startswith("$argon2id$")
    with pytest.raises(InvalidLink):
        await users.set_password_with_link(db, raw, "another password here")  # used up
    with pytest.raises(InvalidLink):
        await users.check_link(db, raw)
    signed = await users.sign_in(db, email, PASSWORD, secret=SECRET, address_hash=address(), rules=RULES)
    assert signed.id == user.id

    again, _, _ = await users.user_with_membership(db, organizer, email, Role.OWNER, SECRET)
    assert again.id == user.id  # one user per email, whatever its case


async def test_a_link_is_refused_once_expired_or_unknown_and_nothing_changes(db: Database) -> None:
    member = await make_member(db, SECRET, password=None)
    async with db.transaction() as session:
        _, raw = await users.issue_token(
            session, member.user_id, TokenPurpose.RESET, SECRET, now=utcnow() - timedelta(hours=25)
        )
    for link in (raw, "nope", "x" * 500):
        with pytest.raises(InvalidLink):
            await users.check_link(db, link)
        with pytest.raises(InvalidLink):
            await users.set_password_with_link(db, link, PASSWORD)
    assert await password_of(db, member.user_id) is None


async def test_only_the_hash_of_a_link_is_stored(db: Database) -> None:
    member = await make_member(db, SECRET, password=None)
    async with db.transaction() as session:
        token, raw = await users.issue_token(session, member.user_id, TokenPurpose.RESET, SECRET)
    async with db.read() as session:
        stored = await session.get(AccountToken, token.id)
    assert stored is not None and stored.token_hash == users.digest(raw) and raw not in stored.token_hash
    assert raw == users.link_secret(SECRET, token.id)  # what the email renders later, from the id alone


async def test_setting_a_password_ends_every_session_and_spends_the_other_links(db: Database) -> None:
    member = await make_member(db, SECRET)
    _, cookie = await sessions.start_session(db, member.user_id, lifetime=HOUR)
    async with db.transaction() as session:
        _, first = await users.issue_token(session, member.user_id, TokenPurpose.RESET, SECRET)
        _, second = await users.issue_token(session, member.user_id, TokenPurpose.RESET, SECRET)
    await users.set_password_with_link(db, first, "a brand new password")
    assert await sessions.load_session(db, cookie) is None
    with pytest.raises(InvalidLink):
        await users.check_link(db, second)
    with pytest.raises(InvalidCredentials):
        await users.sign_in(db, member.email, PASSWORD, secret=SECRET, address_hash=address(), rules=RULES)


@pytest.mark.postgres
async def test_one_link_used_twice_at_once_sets_one_password(pg_db: Database) -> None:
    member = await make_member(pg_db, SECRET, password=None)
    async with pg_db.transaction() as session:
        _, raw = await users.issue_token(session, member.user_id, TokenPurpose.RESET, SECRET)
    results = await asyncio.gather(
        *(users.set_password_with_link(pg_db, raw, f"password number {i}") for i in range(8)), return_exceptions=True
    )
    assert sum(isinstance(r, User) for r in results) == 1
    assert sum(isinstance(r, InvalidLink) for r in results) == 7


async def test_wrong_passwords_throttle_the_account_then_even_the_right_one_waits(db: Database) -> None:
    member = await make_member(db, SECRET)
    where = address()
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await users.sign_in(db, member.email, "wrong password", secret=SECRET, address_hash=where, rules=RULES)
    with pytest.raises(SignInThrottled) as third:  # the failure that reaches the limit answers 429 at once
        await users.sign_in(db, member.email, "wrong password", secret=SECRET, address_hash=where, rules=RULES)
    assert third.value.limit == "sign-in-account" and 3500 < third.value.retry_after <= 3600
    for elsewhere in (where, address()):  # the account is throttled from any address, even with its password
        with pytest.raises(SignInThrottled):
            await users.sign_in(db, member.email, PASSWORD, secret=SECRET, address_hash=elsewhere, rules=RULES)


async def test_a_burst_of_wrong_passwords_checks_at_most_the_limit_then_even_the_right_one_waits(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempts are counted before the password is checked, atomically: of 20 at once, exactly the account's limit
    (3) have their password checked (the CPU an attacker can spend on guesses), the rest are refused untried."""
    member = await make_member(db, SECRET)
    checked = 0
    verify = passwords.verify_password

    async def counted(stored: str | None, password: str) -> bool:
        nonlocal checked
        checked += 1
        return await verify(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counted)
    where = address()

    async def guess(i: int) -> BaseException | None:
        try:
            await users.sign_in(db, member.email, f"guess {i}", secret=SECRET, address_hash=where, rules=RULES)
        except (InvalidCredentials, SignInThrottled) as exc:
            return exc
        return None

    answers = await asyncio.gather(*(guess(i) for i in range(20)))
    assert checked == RULES.account.max_failures
    assert sum(isinstance(a, InvalidCredentials) for a in answers) == RULES.account.max_failures - 1
    throttled = [a for a in answers if isinstance(a, SignInThrottled)]
    assert len(throttled) == 20 - (RULES.account.max_failures - 1)
    assert all(a.limit == "sign-in-account" and a.retry_after > 0 for a in throttled)
    with pytest.raises(SignInThrottled):  # the right password after the limit: refused, not checked
        await users.sign_in(db, member.email, PASSWORD, secret=SECRET, address_hash=where, rules=RULES)
    assert checked == RULES.account.max_failures


async def test_good_sign_ins_do_not_use_up_their_addresss_limit(db: Database) -> None:
    member = await make_member(db, SECRET)
    where = address()
    for _ in range(2 * RULES.address.max_failures):
        await users.sign_in(db, member.email, PASSWORD, secret=SECRET, address_hash=where, rules=RULES)


async def test_a_burst_of_reset_requests_sends_at_most_three_emails(db: Database) -> None:
    member = await make_member(db, SECRET)
    sent = await asyncio.gather(*(users.request_password_reset(db, member.email, SECRET) for _ in range(10)))
    assert sent.count(True) == 3
    assert len(await _outbox(db, "account.password_reset", member.email)) == 3


async def test_a_reset_request_for_an_unknown_address_is_counted_like_a_known_one(db: Database) -> None:
    """Same work for both (the count is written either way), and the unknown one sends nothing."""
    ghost = unique_email("ghost")
    assert [await users.request_password_reset(db, ghost, SECRET) for _ in range(2)] == [False, False]
    key = "reset:" + throttle.account_key(SECRET, ghost)
    async with db.read() as session:
        counted = await session.scalar(select(SignInFailure.failures).where(SignInFailure.key == key))
    assert counted == 2 and await _outbox(db, "account.password_reset", ghost) == []


async def test_a_good_sign_in_clears_the_accounts_count_not_the_addresses(db: Database) -> None:
    member = await make_member(db, SECRET)
    where = address()
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await users.sign_in(db, member.email, "wrong password", secret=SECRET, address_hash=where, rules=RULES)
    await users.sign_in(db, member.email, PASSWORD, secret=SECRET, address_hash=where, rules=RULES)
    for _ in range(2):  # the account's count started again: two more failures are not three
        with pytest.raises(InvalidCredentials):
            await users.sign_in(db, member.email, "wrong password", secret=SECRET, address_hash=where, rules=RULES)
    with pytest.raises(SignInThrottled) as caught:  # but the address has 5 failures now
        await users.sign_in(db, unique_email("who"), "x", secret=SECRET, address_hash=where, rules=RULES)
    assert caught.value.limit == "sign-in-address"


async def test_unknown_emails_are_counted_like_known_ones(db: Database) -> None:
    ghost = unique_email("ghost")
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await users.sign_in(db, ghost, "whatever", secret=SECRET, address_hash=address(), rules=RULES)
    with pytest.raises(SignInThrottled):
        await users.sign_in(db, ghost, "whatever", secret=SECRET, address_hash=address(), rules=RULES)


async def test_a_window_that_ended_starts_counting_again(db: Database) -> None:
    key = throttle.Key("account:test-" + unique_email(), throttle.ThrottleRule(2, HOUR))
    then = utcnow() - timedelta(hours=2)
    assert await throttle.record_failure(db, [key], now=then) == 0
    assert await throttle.record_failure(db, [key], now=then) > 0  # throttled, back then
    assert await throttle.wait_seconds(db, [key]) == 0  # over now
    assert await throttle.record_failure(db, [key]) == 0  # a new window: one failure
    assert await throttle.record_failure(db, [key]) == 3600


@pytest.mark.postgres
async def test_failures_are_counted_exactly_across_processes(pg_url: str) -> None:
    """Two ``Database`` objects (two pools, as two processes have) counting at the same time: none is lost."""
    first, second = Database(pg_url, pool_size=5), Database(pg_url, pool_size=5)
    key = throttle.Key("account:race-" + unique_email(), throttle.ThrottleRule(40, HOUR))
    try:
        await asyncio.gather(*(throttle.record_failure(db, [key]) for db in [first, second] * 20))
        assert await throttle.wait_seconds(first, [key]) > 0
        assert await throttle.wait_seconds(second, [key]) > 0
        lower = throttle.Key(key.value, throttle.ThrottleRule(41, HOUR))
        assert await throttle.wait_seconds(second, [lower]) == 0  # exactly 40
    finally:
        await first.dispose()
        await second.dispose()


async def test_the_last_owner_can_be_neither_demoted_nor_removed(db: Database) -> None:
    owner = await make_member(db, SECRET)
    members = await team.list_members(db, owner.organizer_id)
    (only,) = members
    with pytest.raises(LastOwner):
        await team.change_role(db, owner.organizer_id, only.membership_id, Role.MANAGER)
    with pytest.raises(LastOwner):
        await team.remove_member(db, owner.organizer_id, only.membership_id)
    second = await make_member(db, SECRET, organizer=owner.organizer_email, role=Role.MANAGER)
    second_id = next(
        m.membership_id for m in await team.list_members(db, owner.organizer_id) if m.email == second.email
    )
    await team.change_role(db, owner.organizer_id, second_id, Role.OWNER)
    await team.change_role(db, owner.organizer_id, only.membership_id, Role.DOOR)  # two owners: one may step down
    roles = {m.email: m.role for m in await team.list_members(db, owner.organizer_id)}
    assert roles == {owner.email: Role.DOOR, second.email: Role.OWNER}
    with pytest.raises(LastOwner):
        await team.remove_member(db, owner.organizer_id, second_id)


@pytest.mark.postgres
async def test_two_owners_removing_each_other_at_once_leave_one_owner(pg_db: Database) -> None:
    for _ in range(5):
        a = await make_member(pg_db, SECRET)
        await make_member(pg_db, SECRET, organizer=a.organizer_email)
        ids = [m.membership_id for m in await team.list_members(pg_db, a.organizer_id)]
        results = await asyncio.gather(
            team.remove_member(pg_db, a.organizer_id, ids[0]),
            team.change_role(pg_db, a.organizer_id, ids[1], Role.MANAGER),
            return_exceptions=True,
        )
        assert sum(isinstance(r, LastOwner) for r in results) == 1, results
        left = await team.list_members(pg_db, a.organizer_id)
        assert [m.role for m in left].count(Role.OWNER) == 1


async def test_another_organizers_member_is_not_found(db: Database) -> None:
    mine = await make_member(db, SECRET)
    theirs = await make_member(db, SECRET)
    (their_membership,) = await team.list_members(db, theirs.organizer_id)
    with pytest.raises(NotFound):
        await team.change_role(db, mine.organizer_id, their_membership.membership_id, Role.DOOR)
    with pytest.raises(NotFound):
        await team.remove_member(db, mine.organizer_id, their_membership.membership_id)
    assert [m.role for m in await team.list_members(db, theirs.organizer_id)] == [Role.OWNER]


async def _outbox(db: Database, kind: str, email: str) -> list[OutboxMessage]:
    async with db.read() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))).all()
    return [row for row in rows if row.payload.get("email") == email]


async def test_an_invitation_adds_the_member_and_records_its_email(db: Database) -> None:
    owner = await make_member(db, SECRET)
    email = unique_email("new")
    added = await team.invite(db, owner.organizer_id, email, Role.DOOR, invited_by=owner.email, secret=SECRET)
    assert (added.role, added.has_password) == (Role.DOOR, False)
    (message,) = await _outbox(db, "account.invited", email)
    assert message.topics == [] and set(message.payload) == {"token_id", "email"}  # no secret in the outbox
    details = await users.token_details(db, message.payload["token_id"])
    assert (details.purpose, details.role, details.invited_by) == (TokenPurpose.INVITATION, Role.DOOR, owner.email)
    assert details.organizer_email == owner.organizer_email and not details.has_password
    with pytest.raises(AlreadyMember):
        await team.invite(db, owner.organizer_id, email.upper(), Role.MANAGER, invited_by=owner.email, secret=SECRET)
    assert len(await team.list_members(db, owner.organizer_id)) == 2


async def test_a_reset_email_only_for_an_account_and_at_most_three_an_hour(db: Database) -> None:
    member = await make_member(db, SECRET)
    ghost = unique_email("ghost")
    assert not await users.request_password_reset(db, ghost, SECRET)
    assert await _outbox(db, "account.password_reset", ghost) == []
    assert [await users.request_password_reset(db, member.email, SECRET) for _ in range(4)] == [True] * 3 + [False]
    messages = await _outbox(db, "account.password_reset", member.email)
    assert len(messages) == 3
    details = await users.token_details(db, messages[0].payload["token_id"])
    assert details.purpose == TokenPurpose.RESET and details.has_password


async def test_sessions_work_for_one_organizer_at_a_time(db: Database) -> None:
    member = await make_member(db, SECRET, role=Role.MANAGER)
    view, cookie = await sessions.start_session(db, member.user_id, lifetime=HOUR)
    assert (view.organizer_id, view.role, view.organizer_count) == (member.organizer_id, Role.MANAGER, 1)
    assert view.csrf_token and view.csrf_token != cookie

    other = await make_member(db, SECRET, email=member.email, role=Role.DOOR, password=None)  # a second team
    two, cookie_two = await sessions.start_session(db, member.user_id, lifetime=HOUR)
    assert (two.organizer_id, two.role, two.organizer_count) == (None, None, 2)  # to be chosen
    stranger = await make_member(db, SECRET)
    assert not await sessions.choose_organizer(db, two.session_id, member.user_id, stranger.organizer_id)
    assert await sessions.choose_organizer(db, two.session_id, member.user_id, other.organizer_id)
    chosen = await sessions.load_session(db, cookie_two)
    assert chosen is not None and (chosen.organizer_id, chosen.role) == (other.organizer_id, Role.DOOR)

    mine = next(m for m in await team.list_members(db, other.organizer_id) if m.email == member.email)
    await team.remove_member(db, other.organizer_id, mine.membership_id)
    gone = await sessions.load_session(db, cookie_two)
    assert gone is not None and gone.organizer_id is None and gone.role is None  # no longer a member there

    await sessions.end_session(db, cookie)
    assert await sessions.load_session(db, cookie) is None
    assert await sessions.load_session(db, "x" * 500) is None


async def test_an_expired_session_opens_nothing(db: Database) -> None:
    member = await make_member(db, SECRET)
    _, cookie = await sessions.start_session(db, member.user_id, lifetime=HOUR)
    assert await sessions.load_session(db, cookie, now=utcnow() + 2 * HOUR) is None


async def test_a_keys_last_use_is_written_at_most_once_a_minute(db: Database) -> None:
    organizer = unique_email("org")
    key, raw = await create_api_key(db, organizer, name="shop")
    assert key.last_used_at is None

    async def last_used() -> object:
        async with db.read() as session:
            return await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key.id))

    now = utcnow()
    await authenticate(db, raw, now=now)
    first = await last_used()
    assert first is not None
    await authenticate(db, raw, now=now + timedelta(seconds=30))
    assert await last_used() == first
    await authenticate(db, raw, now=now + timedelta(seconds=61))
    assert await last_used() != first


async def test_revoking_is_scoped_to_the_organizer_and_idempotent(db: Database) -> None:
    mine, _ = await create_api_key(db, unique_email("org"))
    theirs, _ = await create_api_key(db, unique_email("org"))
    with pytest.raises(NotFound):
        await revoke_api_key(db, theirs.id, organizer_id=mine.person_id)
    assert [k.id for k in await list_api_keys(db, theirs.person_id)] == [theirs.id]
    first = await revoke_api_key(db, mine.id, organizer_id=mine.person_id)
    again = await revoke_api_key(db, mine.id, organizer_id=mine.person_id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    assert await list_api_keys(db, mine.person_id) == []
    assert [k.id for k in await list_api_keys(db, mine.person_id, include_revoked=True)] == [mine.id]


async def test_sign_in_upgrades_a_hash_made_with_other_parameters(db: Database) -> None:
    from argon2 import PasswordHasher

    member = await make_member(db, SECRET)
    old = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash(PASSWORD)
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == member.user_id).values(password_hash=old))
    await users.sign_in(db, member.email, PASSWORD, secret=SECRET, address_hash=address(), rules=RULES)
    upgraded = await password_of(db, member.user_id)
    assert upgraded is not None and upgraded != old and "m=16," not in upgraded
