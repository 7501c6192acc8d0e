"""Databases of their own on the test Postgres, for tests that run migrations or servers on
an empty one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.db.engine import create_engine


async def as_admin(pg_url: str, *statements: str) -> None:
    """Run `statements` on the test server outside a transaction (CREATE DATABASE needs it)."""
    admin = create_engine(pg_url, pool_size=1)
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()


async def fresh_database(pg_url: str, name: str) -> str:
    """The URL of database `name`, dropped and created empty."""
    await as_admin(
        pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False)


@asynccontextmanager
async def scratch_engine(pg_url: str, name: str) -> AsyncIterator[AsyncEngine]:
    """An engine on database `name`, created empty for a migration test and dropped after."""
    engine = create_engine(await fresh_database(pg_url, name), pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()
        await as_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}"')


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Alembic's downgrade of `engine`'s database to `revision`."""
    from alembic import command

    from almanac.db.migrate import alembic_config

    def go(connection: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(go)
