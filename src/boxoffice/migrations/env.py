"""Alembic environment: runs on a connection handed in by ``boxoffice.migrate`` or, from the alembic CLI, on
``BOXOFFICE_DATABASE_URL``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from boxoffice.db import Base, make_engine
from boxoffice.models import load_all_models

load_all_models()
config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    from boxoffice.settings import get_settings

    url = config.get_main_option("sqlalchemy.url") or get_settings().database_dsn
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    asyncio.run(_run_online())
