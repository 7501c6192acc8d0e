"""Revision 0039 on a database of its own with done tasks in it: the backfill, the
downgrade to 0038 and the upgrade again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url

from almanac.db.engine import create_engine
from almanac.db.migrate import current_revision, upgrade

ROWS = """
INSERT INTO tasks (id, title, status) VALUES
  (1, 'done, two runs', 'done'), (2, 'done, no run', 'done'), (3, 'open, run', 'in_progress'),
  (4, 'completed (old word)', 'completed'), (5, 'done, run not stopped', 'done');
INSERT INTO execution_runs (task_id, status, started_at, ended_at, actual_hours) VALUES
  (1, 'completed', '2026-11-02 09:00+00', '2026-11-02 10:00+00', 1),
  (1, 'completed', '2026-11-03 09:00+00', '2026-11-03 11:00+00', 2),
  (3, 'completed', '2026-11-04 09:00+00', '2026-11-04 10:00+00', 1),
  (4, 'completed', '2026-11-05 09:00+00', '2026-11-05 10:00+00', 1),
  (5, 'in_progress', '2026-11-06 09:00+00', NULL, 1);
"""


def _step(target: str, direction: str) -> Callable[[object], None]:
    from alembic import command

    from almanac.db.migrate import alembic_config

    def go(connection: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        getattr(command, direction)(cfg, target)

    return go


async def test_finished_at_is_backfilled_and_downgrades(pg_url: str) -> None:
    admin = create_engine(pg_url, pool_size=1)
    name = "almanac_finished_at_migration"
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.run_sync(_step("0038", "downgrade"))
        assert await current_revision(engine) == "0038"
        async with engine.begin() as conn:
            for statement in ROWS.strip().split(";"):
                if statement.strip():
                    await conn.execute(text(statement))
        await upgrade(engine)
        async with engine.connect() as conn:
            got = dict(
                (await conn.execute(text("SELECT id, finished_at FROM tasks ORDER BY id"))).all()
            )
        assert got == {
            1: datetime(2026, 11, 3, 11, tzinfo=UTC),  # its last completed run's end
            2: None,  # nothing said when: counted where it was planned
            3: None,  # not done
            4: datetime(2026, 11, 5, 10, tzinfo=UTC),
            5: None,
        }, got
        async with engine.begin() as conn:
            await conn.run_sync(_step("0038", "downgrade"))
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM tasks"))).scalar_one()
        assert count == 5
        await upgrade(engine)
        assert await current_revision(engine) is not None
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await admin.dispose()
