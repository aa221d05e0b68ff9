"""The account commands in child processes: ``user create`` (the set-password link alone on the last line),
``apikey list`` and ``apikey revoke``, and ``demo``'s owner user with its link."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxoffice.accounts.roles import Role
from boxoffice.accounts.service import authenticate, find_organizer
from boxoffice.accounts.team import list_members
from boxoffice.accounts.users import PASSWORD_PATH, TokenPurpose, check_link, find_user
from boxoffice.db import Database
from boxoffice.errors import Unauthorized
from tests.platform.test_cli import run

pytestmark = pytest.mark.integration  # the command in child processes, on databases of their own

BASE = "http://127.0.0.1:8111"


def secret_of(link: str) -> str:
    assert link.startswith(BASE + PASSWORD_PATH), link
    return link.removeprefix(BASE + PASSWORD_PATH)


async def test_user_create_prints_a_one_time_link_on_its_last_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"BOXOFFICE_DATABASE_URL": url, "BOXOFFICE_PUBLIC_URL": BASE}
    created = run("user", "create", "--organizer", "Org@Example.com", "--email", "Ada@Example.com", env=env)
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    raw = secret_of(lines[-1])
    db = Database(url)
    try:
        link = await check_link(db, raw)
        assert (link.purpose, link.email, link.organizer_name) == (TokenPurpose.SET_PASSWORD, "Ada@Example.com", "")
        user = await find_user(db, "ada@example.com")
        assert user is not None and user.password_hash is None
        person = await find_organizer(db, "org@example.com")
        assert person is not None
        organizer = person.id
        assert [(m.email, m.role) for m in await list_members(db, organizer)] == [("Ada@Example.com", Role.OWNER)]
        # the same command again: the same user, a new link (the first one still works until used)
        manager = run(
            "user",
            "create",
            "--organizer",
            "org@example.com",
            "--email",
            "bob@example.com",
            "--role",
            "manager",
            env=env,
        )
        assert manager.returncode == 0, manager.stderr
        last_owner = run(
            "user", "create", "--organizer", "org@example.com", "--email", "ada@example.com", "--role", "door", env=env
        )
        assert last_owner.returncode == 1 and "at least one owner" in last_owner.stderr
        roles = {m.email: m.role for m in await list_members(db, organizer)}
        assert roles == {"Ada@Example.com": Role.OWNER, "bob@example.com": Role.MANAGER}
    finally:
        await db.dispose()
    bad = run("user", "create", "--organizer", "org@example.com", "--email", "x@example.com", "--role", "boss", env=env)
    assert bad.returncode == 2 and "Unknown role" in bad.stderr
    invalid = run("user", "create", "--organizer", "org@example.com", "--email", "not an email", env=env)
    assert invalid.returncode == 2 and "Invalid input" in invalid.stderr


async def test_apikey_list_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"BOXOFFICE_DATABASE_URL": url, "BOXOFFICE_PUBLIC_URL": BASE}
    keys = []
    for name in ("shop", "door app"):
        made = run("apikey", "create", "--organizer", "keys@example.com", "--name", name, env=env)
        assert made.returncode == 0, made.stderr
        keys.append(made.stdout.strip().splitlines()[-1])
    listed = run("apikey", "list", "--organizer", "keys@example.com", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.strip().splitlines()
    assert len(rows) == 2 and all(k[:10] in listed.stdout for k in keys) and keys[0] not in listed.stdout
    shop = next(row for row in rows if "shop" in row and "door app" not in row)
    assert "last used never" in shop
    revoked = run("apikey", "revoke", shop.split()[0], env=env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    db = Database(url)
    try:
        with pytest.raises(Unauthorized):
            await authenticate(db, keys[0])
        assert (await authenticate(db, keys[1])).email_normalized == "keys@example.com"
    finally:
        await db.dispose()
    active = run("apikey", "list", "--organizer", "keys@example.com", env=env).stdout
    everything = run("apikey", "list", "--organizer", "keys@example.com", "--all", env=env).stdout
    assert len(active.strip().splitlines()) == 1 and "last used 20" in active  # used by the check above
    assert len(everything.strip().splitlines()) == 2 and "revoked 20" in everything
    assert run("apikey", "revoke", "key_nope", env=env).returncode == 1
    assert run("apikey", "list", "--organizer", "nobody@example.com", env=env).returncode == 1


async def test_demo_makes_an_owner_and_prints_how_to_sign_in(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"BOXOFFICE_DATABASE_URL": url, "BOXOFFICE_PUBLIC_URL": BASE}
    demo = run("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.strip().splitlines()
    console = next(line for line in lines if line.startswith("Console:"))
    assert f"{BASE}/manage" in console and "demo-organizer@example.com" in console
    link = next(line for line in lines if line.startswith("Set a password:")).split()[3]
    db = Database(url)
    try:
        found = await check_link(db, secret_of(link))
        assert found.email == "demo-organizer@example.com"
        organizer = await authenticate(db, lines[-1])  # the API key stays on the last line
        assert [m.role for m in await list_members(db, organizer.id)] == [Role.OWNER]
    finally:
        await db.dispose()
