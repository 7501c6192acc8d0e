"""Revision 0006 on a database of its own: upgrade, downgrade to 0005, upgrade again."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from almanac.db.engine import create_engine
from almanac.db.migrate import current_revision, upgrade

COUNT_OBJECTS = """
SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
          AND (tablename LIKE 'procrastinate%' OR tablename = 'job_schedules'))
     + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%')
     + (SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%' AND typtype IN ('e', 'c'))
"""


async def test_job_queue_revision_downgrades_and_upgrades(pg_url: str):
    admin = create_engine(pg_url, pool_size=1)
    name = "almanac_jobs_migration"
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text(COUNT_OBJECTS))).scalar_one() > 20
    finally:
        await engine.dispose()
    await _downgrade_and_back(url)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE "{name}"'))
    await admin.dispose()


async def _downgrade_and_back(url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from almanac.db.migrate import alembic_config

    engine = create_engine(url, pool_size=1)
    try:

        def down(connection: object) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0005")

        async with engine.begin() as conn:
            await conn.run_sync(down)
        assert await current_revision(engine) == "0005"
        async with engine.connect() as conn:
            assert (await conn.execute(text(COUNT_OBJECTS))).scalar_one() == 0
        await upgrade(engine)
        # Back at the head (later revisions than 0006 come back too).
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await current_revision(engine) == head
    finally:
        await engine.dispose()
