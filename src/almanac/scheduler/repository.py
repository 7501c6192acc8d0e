"""SQL of the scheduler: scheduler_runs and sprints (plans, tasks and prompts are the
planner's: the scheduler reaches them through `planner.repository` and
`planner.task_repository`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.repository import CalendarEntryRepository
from almanac.db.portable import PortableRows
from almanac.db.repository import Repository
from almanac.models import SchedulerRun, Sprint, Task
from almanac.models.status import APPLIED_RUN_STATUSES
from almanac.planner.repository import PlanRepository
from almanac.planner.task_repository import TaskRepository

_KEYS_STARTING = text(
    """
    WITH newest AS (
        SELECT DISTINCT ON (r.plan_id) r.plan_id, r.schedule_blocks
        FROM scheduler_runs r
        WHERE r.status = ANY(:statuses) AND r.plan_id = ANY(:plan_ids)
        ORDER BY r.plan_id, r.id DESC
    ), starts AS (
        SELECT n.plan_id, b->>'task_key' AS task_key,
               CASE WHEN jsonb_typeof(b) = 'object' AND b->>'start' <> ''
                    THEN (b->>'start')::timestamptz END AS start
        FROM newest n
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(n.schedule_blocks) = 'array'
                 THEN n.schedule_blocks ELSE '[]'::jsonb END
        ) AS b
    )
    SELECT DISTINCT plan_id, task_key FROM starts
    WHERE task_key IS NOT NULL AND start >= :lo AND start < :hi
    ORDER BY plan_id, task_key
    """
)


class SchedulerRepository(Repository, PortableRows):
    """Everything the scheduler reads and writes in Postgres."""

    portable = (Sprint, SchedulerRun)

    async def lock_calendar(self) -> None:
        """Serialize the writers of the schedule until the transaction ends.

        A write reads every plan's blocks and the calendar, solves, then writes runs and
        events for several plans; two at once would each write over what the other read
        (lost blocks, overlaps, a limit exceeded twice). A transaction-level advisory lock,
        taken before any row lock, makes the second wait and read again. Previews take none.
        """
        # The calendar's own lock for writers of Almanac's blocks: one lock, whichever
        # provider, so whatever else deletes blocks (forgetting a client) waits as well.
        await CalendarEntryRepository(self.session).lock_blocks()

    # -- runs --------------------------------------------------------------------------------

    async def blocks_span(self, plan_ids: Sequence[int]) -> tuple[datetime, datetime] | None:
        """From the earliest block start to the latest block end of any run of these plans
        (None when they have none)."""
        if not plan_ids:
            return None
        span = (
            await self.session.execute(
                text(
                    "SELECT min((b->>'start')::timestamptz), max((b->>'end')::timestamptz) "
                    "FROM scheduler_runs r, jsonb_array_elements(r.schedule_blocks) b "
                    "WHERE r.plan_id = ANY(:plans)"  # previews only widen the span
                ),
                {"plans": list(plan_ids)},
            )
        ).one()
        if span[0] is None or span[1] is None:
            return None
        return (span[0], span[1])

    async def last_applied_runs(self, plan_ids: Sequence[int]) -> dict[int, SchedulerRun]:
        """The last applied run of each plan that has one."""
        out: dict[int, SchedulerRun] = {}
        for plan_id in plan_ids:
            run = await self.last_applied_run(plan_id)
            if run is not None:
                out[plan_id] = run
        return out

    async def last_read_preferences(
        self, client_id: int | None
    ) -> tuple[int, datetime, dict[str, Any]] | None:
        """(run id, when, preferences) of the newest run of a plan of `client_id` (None:
        the user's own plans) whose preferences were read from memory, or None."""
        plan_ids = await PlanRepository(self.session).ids_for(client_id)
        if not plan_ids:
            return None
        row = (
            await self.session.execute(
                text(
                    "SELECT id, created_at, metadata->'preferences_used' FROM scheduler_runs "
                    "WHERE plan_id = ANY(:plans) AND metadata->>'preferences_read' = 'memory' "
                    "AND jsonb_typeof(metadata->'preferences_used') = 'object' "
                    "ORDER BY id DESC LIMIT 1"
                ),
                {"plans": plan_ids},
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    async def run(self, run_id: int, *, for_update: bool = False) -> SchedulerRun | None:
        return await self.by_id(SchedulerRun, run_id, lock=self.lock_of(for_update))

    async def add_run(
        self, plan_id: int, status: str, blocks: list[dict[str, Any]], metadata: dict[str, Any]
    ) -> SchedulerRun:
        run = SchedulerRun(
            plan_id=plan_id, status=status, schedule_blocks=blocks, metadata_=metadata
        )
        self.session.add(run)
        await self.session.flush()
        return run

    async def set_run_blocks(self, run: SchedulerRun, blocks: list[dict[str, Any]]) -> None:
        """Replace a run's stored blocks (same times; used for the warnings stored on them)."""
        run.schedule_blocks = blocks  # a new list, so SQLAlchemy sees the change
        await self.session.flush()

    async def last_applied_run(self, plan_id: int) -> SchedulerRun | None:
        stmt = (
            select(SchedulerRun)
            .where(
                SchedulerRun.plan_id == plan_id,
                SchedulerRun.status.in_(APPLIED_RUN_STATUSES),
            )
            .order_by(SchedulerRun.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def applied_blocks(
        self, plan_ids: Sequence[int], *, newest: bool
    ) -> dict[int, list[Any]]:
        """The stored blocks of each plan's newest (or first) applied run."""
        if not plan_ids:
            return {}
        order = SchedulerRun.id.desc() if newest else SchedulerRun.id.asc()
        stmt = (
            select(SchedulerRun.plan_id, SchedulerRun.schedule_blocks)
            .ext(distinct_on(SchedulerRun.plan_id))
            .where(
                SchedulerRun.status.in_(APPLIED_RUN_STATUSES),
                SchedulerRun.plan_id.in_(list(plan_ids)),
            )
            .order_by(SchedulerRun.plan_id, order)
        )
        return {pid: list(blocks or []) for pid, blocks in await self.session.execute(stmt)}

    async def task_keys_starting(
        self, lo: datetime, hi: datetime, plan_ids: Sequence[int]
    ) -> list[tuple[int, str]]:
        """(plan id, task key) of the blocks starting in [lo, hi) in the newest applied run
        of each of `plan_ids`, found in SQL: the runs' block lists (every plan's, each its
        whole horizon) never leave the database."""
        if not plan_ids:
            return []
        rows = await self.session.execute(
            _KEYS_STARTING,
            {
                "statuses": list(APPLIED_RUN_STATUSES),
                "plan_ids": list(plan_ids),
                "lo": lo,
                "hi": hi,
            },
        )
        return [(int(p), str(k)) for p, k in rows]

    # -- sprints -----------------------------------------------------------------------------

    async def sprints_between(self, first: date, last: date) -> list[Sprint]:
        """Sprints whose week_start lies in [first, last]."""
        stmt = (
            select(Sprint)
            .where(Sprint.week_start >= first, Sprint.week_start <= last)
            .order_by(Sprint.week_start)
        )
        return list(await self.session.scalars(stmt))

    async def sprint_for_week(self, week_start: date) -> Sprint | None:
        stmt = select(Sprint).where(Sprint.week_start == week_start)
        return (await self.session.scalars(stmt)).one_or_none()

    async def sprints(self, limit: int, offset: int) -> list[Sprint]:
        stmt = select(Sprint).order_by(Sprint.week_start.desc()).limit(limit).offset(offset)
        return list(await self.session.scalars(stmt))


# -- for the context block (read-only) ---------------------------------------------------------


class AgendaReader:
    """Open tasks and current blocks of a client (or all), for the memory context block."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.tasks = TaskRepository(session)
        self.plans = PlanRepository(session)

    async def open_tasks(self, client_id: int | None, limit: int) -> list[Task]:
        """Tasks not closed, soonest scheduled first, then by deadline and priority."""
        return await self.tasks.agenda(client_id, limit)

    async def current_blocks(
        self, client_id: int | None
    ) -> list[tuple[int, dict[str, Any], str | None]]:
        """(plan_id, stored block, task title) of each live plan's latest applied run."""
        plan_ids = await self.plans.ids_not_cancelled(client_id)
        if not plan_ids:
            return []
        runs = (
            select(SchedulerRun.plan_id, SchedulerRun.schedule_blocks)
            .where(
                SchedulerRun.status.in_(APPLIED_RUN_STATUSES),
                SchedulerRun.plan_id.in_(plan_ids),
            )
            .order_by(SchedulerRun.plan_id, SchedulerRun.id.desc())
            .ext(distinct_on(SchedulerRun.plan_id))
        )
        rows = [(pid, list(blocks or [])) for pid, blocks in await self.session.execute(runs)]
        if not rows:
            return []
        titles = await self.tasks.titles([pid for pid, _ in rows])
        return [
            (pid, b, titles.get((pid, str(b.get("task_key")))))
            for pid, blocks in rows
            for b in blocks
            if isinstance(b, dict)
        ]
