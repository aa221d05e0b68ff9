"""The ``boxoffice apikey`` and ``boxoffice user`` commands (``apikey create`` lives with the others in ``cli``)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from boxoffice import migrate as migrations
from boxoffice.settings import Settings, get_settings

apikey_app = typer.Typer(help="Organizer API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Console users (organizers' team members).", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the variable at fault
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


@apikey_app.command("list")
def apikey_list(
    organizer: Annotated[str, typer.Option("--organizer", help="The organizer's email.")],
    all_keys: Annotated[bool, typer.Option("--all", help="Also the revoked keys.")] = False,
) -> None:
    """List an organizer's API keys: id, prefix, name, created, last used (and revoked with --all)."""
    settings = _settings()

    async def run() -> None:
        from boxoffice.accounts.service import find_organizer, list_api_keys
        from boxoffice.db import Database

        db = Database(settings.database_dsn)
        try:
            if settings.is_sqlite:
                await migrations.upgrade(settings.database_dsn)
            person = await find_organizer(db, organizer)
            if person is None:
                typer.echo(f"No organizer {organizer}.", err=True)
                raise typer.Exit(1)
            found = await list_api_keys(db, person.id, include_revoked=all_keys)
        finally:
            await db.dispose()
        if not found:
            typer.echo("No API keys.", err=True)
        for key in found:
            used = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
            revoked = f"  revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
            typer.echo(
                f"{key.id}  {key.prefix}...  {key.name or '-'}  created {key.created_at:%Y-%m-%d %H:%M}  "
                f"last used {used}{revoked}"
            )

    asyncio.run(run())


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_..., from `apikey list`).")]) -> None:
    """Revoke an API key: every process refuses it from now on."""
    settings = _settings()

    async def run() -> None:
        from boxoffice.accounts.service import revoke_api_key
        from boxoffice.db import Database
        from boxoffice.errors import NotFound

        db = Database(settings.database_dsn)
        try:
            if settings.is_sqlite:
                await migrations.upgrade(settings.database_dsn)
            key = await revoke_api_key(db, key_id)
        except NotFound:
            typer.echo(f"No API key {key_id}.", err=True)
            raise typer.Exit(1) from None
        finally:
            await db.dispose()
        typer.echo(f"API key {key.id} ({key.prefix}...) revoked.")

    asyncio.run(run())


@user_app.command("create")
def user_create(
    organizer: Annotated[str, typer.Option("--organizer", help="The organizer's email (created when new).")],
    email: Annotated[str, typer.Option("--email", help="The user's email (created when new).")],
    role: Annotated[str, typer.Option("--role", help="owner, manager or door.")] = "owner",
) -> None:
    """Make a user a member of an organizer's team; prints a one-time link (valid 24 hours) to set the password,
    alone on the last line."""
    from boxoffice.accounts.roles import Role, parse_role

    chosen = parse_role(role)
    if chosen is None:
        typer.echo(f"Unknown role {role!r}: use one of {', '.join(r.value for r in Role)}.", err=True)
        raise typer.Exit(2)
    settings = _settings()

    async def run() -> str:
        from boxoffice.accounts.errors import LastOwner
        from boxoffice.accounts.users import password_link, user_with_membership
        from boxoffice.db import Database
        from boxoffice.errors import InvalidInput

        db = Database(settings.database_dsn)
        try:
            if settings.is_sqlite:
                await migrations.upgrade(settings.database_dsn)
            user, person, raw = await user_with_membership(db, organizer, email, chosen, settings.secret_bytes)
        except InvalidInput as exc:
            typer.echo(f"Invalid input: {exc.detail}", err=True)
            raise typer.Exit(2) from None
        except LastOwner as exc:
            typer.echo(f"Refused: {exc.detail}", err=True)
            raise typer.Exit(1) from None
        finally:
            await db.dispose()
        typer.echo(f"{user.email} is {chosen.value} of {person.email}. Set the password within 24 hours at:")
        return password_link(settings.public_url, raw)

    typer.echo(asyncio.run(run()))
