"""SQL of the scheduler: tasks' scheduling fields, scheduler_runs, sprints, its prompt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.portable import PortableRows
from almanac.db.repository import Repository
from almanac.models import Plan, PromptTemplate, SchedulerRun, Sprint, Task
from almanac.models.status import APPLIED_RUN_STATUSES, CLOSED_TASK_STATUSES


class SchedulerRepository(Repository, PortableRows):
    """Everything the scheduler reads and writes in Postgres."""

    portable = (Sprint, SchedulerRun)

    # -- plans and tasks --------------------------------------------------------------------

    async def calendar_span_of_client(
        self, client_id: int
    ) -> tuple[list[int], tuple[datetime, datetime] | None]:
        """A client's plan ids, and the span from the earliest block start to the latest
        block end of any of their runs (None when they have none)."""
        plan_ids = list(
            await self.session.scalars(
                select(Plan.id).where(Plan.client_id == client_id).order_by(Plan.id)
            )
        )
        if not plan_ids:
            return [], None
        span = (
            await self.session.execute(
                text(
                    "SELECT min((b->>'start')::timestamptz), max((b->>'end')::timestamptz) "
                    "FROM scheduler_runs r, jsonb_array_elements(r.schedule_blocks) b "
                    "WHERE r.plan_id = ANY(:plans)"  # previews only widen the span
                ),
                {"plans": plan_ids},
            )
        ).one()
        if span[0] is None or span[1] is None:
            return plan_ids, None
        return plan_ids, (span[0], span[1])

    async def plans_in_calendar(self) -> list[int]:
        """Plans whose blocks are in the calendar (scheduled or under way)."""
        rows = await self.session.scalars(
            select(Plan.id).where(Plan.status.in_(("scheduled", "active"))).order_by(Plan.id)
        )
        return list(rows)

    async def plan(self, plan_id: int, *, for_update: bool = False) -> Plan | None:
        return await self.by_id(Plan, plan_id, lock=self.lock_of(for_update))

    async def set_plan_status(self, plan: Plan, status: str) -> None:
        """Store a status the caller has checked with `require_transition`."""
        plan.status = status
        await self.session.flush()

    async def plans_with_status(self, statuses: Sequence[str]) -> list[Plan]:
        """Plans in any of `statuses`, by id."""
        stmt = select(Plan).where(Plan.status.in_(tuple(statuses))).order_by(Plan.id)
        return list(await self.session.scalars(stmt))

    async def open_tasks_of(self, plan_ids: Sequence[int]) -> list[Task]:
        """Open tasks of several plans, in a stable order."""
        if not plan_ids:
            return []
        stmt = (
            select(Task)
            .where(Task.plan_id.in_(list(plan_ids)), Task.status.not_in(CLOSED_TASK_STATUSES))
            .order_by(Task.plan_id, Task.id)
        )
        return list(await self.session.scalars(stmt))

    async def last_applied_runs(self, plan_ids: Sequence[int]) -> dict[int, SchedulerRun]:
        """The last applied run of each plan that has one."""
        out: dict[int, SchedulerRun] = {}
        for plan_id in plan_ids:
            run = await self.last_applied_run(plan_id)
            if run is not None:
                out[plan_id] = run
        return out

    async def run(self, run_id: int, *, for_update: bool = False) -> SchedulerRun | None:
        return await self.by_id(SchedulerRun, run_id, lock=self.lock_of(for_update))

    async def open_tasks(self, plan_id: int) -> list[Task]:
        """The plan's tasks still to do, in a stable order."""
        stmt = (
            select(Task)
            .where(Task.plan_id == plan_id, Task.status.not_in(CLOSED_TASK_STATUSES))
            .order_by(Task.id)
        )
        return list(await self.session.scalars(stmt))

    async def task(self, plan_id: int, key: str, *, for_update: bool = False) -> Task | None:
        stmt = select(Task).where(Task.plan_id == plan_id, Task.plan_task_key == key)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def set_scheduled_start(self, starts: dict[int, datetime | None]) -> None:
        """tasks.scheduled_start per task id (None clears it)."""
        for task_id, start in starts.items():
            await self.session.execute(
                update(Task).where(Task.id == task_id).values(scheduled_start=start)
            )

    async def set_task_metadata(self, task: Task, metadata: dict[str, Any]) -> None:
        task.metadata_ = metadata  # a new dict, so SQLAlchemy sees the change
        await self.session.flush()

    async def billable_by_key(self, plan_ids: Sequence[int]) -> dict[tuple[int, str], bool]:
        """(plan id, task key) → billable, for the sprint report."""
        if not plan_ids:
            return {}
        rows = await self.session.execute(
            select(Task.plan_id, Task.plan_task_key, Task.billable).where(
                Task.plan_id.in_(plan_ids)
            )
        )
        return {(p, k): b for p, k, b in rows if p is not None and k is not None}

    # -- runs --------------------------------------------------------------------------------

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

    # -- prompt ------------------------------------------------------------------------------

    async def active_prompt(self, name: str) -> tuple[str, str] | None:
        """(content, version) of the active prompt template `name`."""
        row = (
            await self.session.execute(
                select(PromptTemplate.content, PromptTemplate.version).where(
                    PromptTemplate.template_name == name, PromptTemplate.is_active
                )
            )
        ).one_or_none()
        return (row[0], row[1]) if row else None

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

    def _client(self, client_id: int | None) -> Any:
        if client_id is None:
            return Plan.status != "cancelled"
        return (Plan.status != "cancelled") & (
            func.coalesce(Task.client_id, Plan.client_id) == client_id
        )

    async def open_tasks(self, client_id: int | None, limit: int) -> list[Task]:
        """Tasks not closed, soonest scheduled first, then by deadline and priority."""
        stmt = (
            select(Task)
            .join(Plan, Plan.id == Task.plan_id)
            .where(Task.status.not_in(CLOSED_TASK_STATUSES), self._client(client_id))
            .order_by(
                Task.scheduled_start.asc().nulls_last(),
                Task.deadline.asc().nulls_last(),
                Task.priority.desc(),
                Task.id,
            )
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def current_blocks(
        self, client_id: int | None
    ) -> list[tuple[int, dict[str, Any], str | None]]:
        """(plan_id, stored block, task title) of each plan's latest applied run."""
        runs = (
            select(SchedulerRun.plan_id, SchedulerRun.schedule_blocks)
            .join(Plan, Plan.id == SchedulerRun.plan_id)
            .where(SchedulerRun.status.in_(APPLIED_RUN_STATUSES), self._client_plan(client_id))
            .order_by(SchedulerRun.plan_id, SchedulerRun.id.desc())
            .ext(distinct_on(SchedulerRun.plan_id))
        )
        rows = [(pid, list(blocks or [])) for pid, blocks in await self.session.execute(runs)]
        if not rows:
            return []
        titles = {
            (pid, key): title
            for pid, key, title in await self.session.execute(
                select(Task.plan_id, Task.plan_task_key, Task.title).where(
                    Task.plan_id.in_([pid for pid, _ in rows])
                )
            )
        }
        return [
            (pid, b, titles.get((pid, str(b.get("task_key")))))
            for pid, blocks in rows
            for b in blocks
            if isinstance(b, dict)
        ]

    def _client_plan(self, client_id: int | None) -> Any:
        if client_id is None:
            return Plan.status != "cancelled"
        return (Plan.status != "cancelled") & (Plan.client_id == client_id)
