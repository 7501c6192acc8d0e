"""Revision 0006 on a database of its own: upgrade, downgrade to 0005, upgrade again."""

from __future__ import annotations

from sqlalchemy import text

from almanac.db.engine import create_engine
from almanac.db.migrate import current_revision, upgrade
from tests.databases import as_admin, downgrade, fresh_database

COUNT_OBJECTS = """
SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
          AND (tablename LIKE 'procrastinate%' OR tablename = 'job_schedules'))
     + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%')
     + (SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%' AND typtype IN ('e', 'c'))
"""


async def test_job_queue_revision_downgrades_and_upgrades(pg_url: str):
    name = "almanac_jobs_migration"
    url = await fresh_database(pg_url, name)
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text(COUNT_OBJECTS))).scalar_one() > 20
    finally:
        await engine.dispose()
    await _downgrade_and_back(url)
    await as_admin(pg_url, f'DROP DATABASE "{name}"')


async def _downgrade_and_back(url: str) -> None:
    from alembic.script import ScriptDirectory

    from almanac.db.migrate import alembic_config

    engine = create_engine(url, pool_size=1)
    try:
        await downgrade(engine, "0005")
        assert await current_revision(engine) == "0005"
        async with engine.connect() as conn:
            assert (await conn.execute(text(COUNT_OBJECTS))).scalar_one() == 0
        await upgrade(engine)
        # Back at the head (later revisions than 0006 come back too).
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await current_revision(engine) == head
    finally:
        await engine.dispose()
