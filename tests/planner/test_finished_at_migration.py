"""Revision 0039 on a database of its own with done tasks in it: the backfill, the
downgrade to 0038 and the upgrade again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from almanac.db.migrate import current_revision, upgrade
from tests.databases import downgrade, scratch_engine

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


async def test_finished_at_is_backfilled_and_downgrades(pg_url: str) -> None:
    async with scratch_engine(pg_url, "almanac_finished_at_migration") as engine:
        await upgrade(engine)
        await downgrade(engine, "0038")
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
        await downgrade(engine, "0038")
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM tasks"))).scalar_one()
        assert count == 5
        await upgrade(engine)
        assert await current_revision(engine) is not None
