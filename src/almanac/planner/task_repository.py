"""SQL for tasks: the planner creates them when a plan is approved and owns the table.

The task resource (`tasks/`), the scheduler and the context block read and edit tasks
through this repository. `run_history` (the estimator's past work) joins tasks with the
ontology's execution runs and process templates in one grouped query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update

from almanac.db.portable import PortableRows
from almanac.db.repository import Repository, equal_to
from almanac.models import ExecutionRun, Plan, ProcessTemplate, Task
from almanac.models.status import CLOSED_TASK_STATUSES
from almanac.types import WORK_TIME_AHEAD

HISTORY_PER_WORKFLOW = 3000


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One completed task of a past plan (its runs summed)."""

    workflow_id: int
    instance: int  # process template
    key: str  # the workflow's task key
    library_hours: float | None  # the library's estimate when the plan was made
    estimated_hours: float | None  # what the plan said
    actual_hours: float
    client_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class RunWithTask:
    """An execution run with its task's key, billability, process template, workflow and
    the estimate it is measured against."""

    run: ExecutionRun
    task_key: str | None
    billable: bool
    instance_id: int | None
    workflow_id: int | None
    baseline_hours: float | None
    task_unfinished: bool = False  # its task is not done (open, cancelled, skipped)


class TaskRepository(Repository, PortableRows):
    """Reads and edits task rows."""

    portable = (Task,)

    async def search(
        self,
        *,
        plan_id: int | None,
        client_id: int | None,
        status: str | None,
        due_before: datetime | None,
        day: tuple[datetime, datetime] | None,
        limit: int,
        offset: int,
        with_blocks: Sequence[tuple[int, str]] = (),
    ) -> tuple[list[Task], int]:
        """`day` matches a task scheduled, due or with a block (`with_blocks`: plan id and
        task key) that day, or in progress."""
        conds = equal_to(Task, plan_id=plan_id, client_id=client_id, status=status)
        if due_before is not None:
            conds.append(Task.deadline < due_before)
        if day is not None:
            lo, hi = day
            blocks = [tuple_(Task.plan_id, Task.plan_task_key).in_(list(with_blocks))]
            conds.append(
                or_(
                    and_(Task.scheduled_start >= lo, Task.scheduled_start < hi),
                    and_(Task.deadline >= lo, Task.deadline < hi),
                    Task.status == "in_progress",
                    *(blocks if with_blocks else []),
                )
            )
        # Open work first; within a deadline (a plan's tasks share one), the order the
        # schedule starts them, which follows their dependencies; priority breaks ties.
        order = [
            Task.status.in_(CLOSED_TASK_STATUSES).asc(),
            Task.deadline.asc().nulls_last(),
            Task.scheduled_start.asc().nulls_last(),
            Task.priority.desc(),
            Task.id,
        ]
        return await self.page(select(Task).where(*conds), order, limit, offset)

    async def get(self, task_id: int, *, for_update: bool = False) -> Task | None:
        return await self.by_id(Task, task_id, lock=self.lock_of(for_update))

    async def need(self, task_id: int, *, for_update: bool = False) -> Task:
        """The task, or 404 "task {id} not found"."""
        return await self.require(Task, task_id, "task", lock=self.lock_of(for_update))

    async def open_of_plan(self, plan_id: int) -> list[Task]:
        """The plan's tasks not closed, locked (a plan being cancelled closes them)."""
        stmt = (
            select(Task)
            .where(Task.plan_id == plan_id, Task.status.not_in(CLOSED_TASK_STATUSES))
            .order_by(Task.id)
            .with_for_update()
        )
        return list(await self.session.scalars(stmt))

    async def by_keys(self, plan_id: int, keys: Sequence[str]) -> list[Task]:
        if not keys:
            return []
        stmt = select(Task).where(Task.plan_id == plan_id, Task.plan_task_key.in_(list(keys)))
        return list(await self.session.scalars(stmt))

    async def by_key(self, plan_id: int, key: str, *, for_update: bool = False) -> Task | None:
        stmt = select(Task).where(Task.plan_id == plan_id, Task.plan_task_key == key)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def dependents(self, plan_id: int, key: str) -> list[Task]:
        rows = await self.session.scalars(select(Task).where(Task.plan_id == plan_id))
        return [t for t in rows if key in {str(d) for d in t.depends_on or ()}]

    async def flush(self) -> None:
        await self.session.flush()

    # -- for the scheduler -------------------------------------------------------------------

    async def open_of(self, plan_ids: Sequence[int]) -> list[Task]:
        """Open tasks of several plans, in a stable order."""
        if not plan_ids:
            return []
        stmt = (
            select(Task)
            .where(Task.plan_id.in_(list(plan_ids)), Task.status.not_in(CLOSED_TASK_STATUSES))
            .order_by(Task.plan_id, Task.id)
        )
        return list(await self.session.scalars(stmt))

    async def closed_of(self, plan_ids: Sequence[int]) -> dict[tuple[int, str], tuple[str, str]]:
        """(plan id, task key) → (status, title) of the plans' closed tasks (done, cancelled...)."""
        if not plan_ids:
            return {}
        stmt = select(Task.plan_id, Task.plan_task_key, Task.status, Task.title).where(
            Task.plan_id.in_(list(plan_ids)), Task.status.in_(CLOSED_TASK_STATUSES)
        )
        return {(p, k): (s, t) for p, k, s, t in await self.session.execute(stmt) if p and k}

    async def set_scheduled_start(self, starts: dict[int, datetime | None]) -> None:
        """tasks.scheduled_start per task id (None clears it)."""
        for task_id, start in starts.items():
            await self.session.execute(
                update(Task).where(Task.id == task_id).values(scheduled_start=start)
            )

    async def set_metadata(self, task: Task, metadata: dict[str, Any]) -> None:
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

    async def titles(self, plan_ids: Sequence[int]) -> dict[tuple[int, str], str]:
        """(plan id, task key) → title."""
        if not plan_ids:
            return {}
        rows = await self.session.execute(
            select(Task.plan_id, Task.plan_task_key, Task.title).where(
                Task.plan_id.in_(list(plan_ids))
            )
        )
        return {(p, k): t for p, k, t in rows if p is not None and k is not None}

    # -- for the context block ---------------------------------------------------------------

    async def agenda(self, client_id: int | None, limit: int) -> list[Task]:
        """Tasks not closed of plans not cancelled (a client's, or all), soonest scheduled
        first, then by deadline and priority."""
        live = Plan.status != "cancelled"
        if client_id is not None:
            live = live & (func.coalesce(Task.client_id, Plan.client_id) == client_id)
        stmt = (
            select(Task)
            .join(Plan, Plan.id == Task.plan_id)
            .where(Task.status.not_in(CLOSED_TASK_STATUSES), live)
            .order_by(
                Task.scheduled_start.asc().nulls_last(),
                Task.deadline.asc().nulls_last(),
                Task.priority.desc(),
                Task.id,
            )
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    # -- for the estimator -------------------------------------------------------------------

    async def run_history(
        self, workflow_ids: Sequence[int], *, per_workflow: int = HISTORY_PER_WORKFLOW
    ) -> list[HistoryRow]:
        """Completed work per task of past plans of these workflows, newest first.

        A task may have several runs (paused and resumed work): their hours are summed. A
        task approved since calibration became per client carries its origin in its
        metadata (workflow, workflow task key, library estimate), which also covers the
        workflows inside a blueprint; older tasks fall back to their process template's
        workflow and their own key. At most `per_workflow` tasks per workflow (the newest:
        old runs weigh next to nothing anyway).
        """
        if not workflow_ids:
            return []
        meta = Task.metadata_
        workflow = func.coalesce(
            meta["workflow_id"].as_integer(), ProcessTemplate.workflow_id
        ).label("workflow")
        key = func.coalesce(meta["workflow_task"].as_string(), Task.plan_task_key)
        library = meta["library_hours"].as_float()
        actual = func.sum(ExecutionRun.actual_hours)
        estimated = func.coalesce(Task.estimate_hours, func.max(ExecutionRun.estimated_hours))
        at = func.max(func.coalesce(ExecutionRun.ended_at, ExecutionRun.started_at))
        inner = (
            select(
                workflow,
                ProcessTemplate.id.label("instance"),
                key.label("key"),
                library.label("library"),
                estimated.label("estimated"),
                actual.label("actual"),
                Task.client_id.label("client"),
                func.coalesce(at, Task.updated_at).label("at"),
            )
            .join(Task, Task.id == ExecutionRun.task_id)
            .join(ProcessTemplate, ProcessTemplate.id == Task.process_template_id)
            .where(
                ExecutionRun.status == "completed",
                ExecutionRun.actual_hours.is_not(None),
                Task.plan_task_key.is_not(None),
                # Only a done task's work is how long the task takes: 0.5 h on a dropped 8 h
                # task read as a fast run, and 1 h on one still in progress as a new pace.
                Task.status == "done",
                workflow.in_(workflow_ids),
            )
            .group_by(Task.id, ProcessTemplate.id)
            # No hours recorded is no measure (a timer started and stopped at once, work not
            # tracked), not work done in no time: a 0 h engagement took estimates to 0.3x.
            .having(actual > 0)
            .subquery()
        )
        ranked = select(
            inner,
            func.row_number()
            .over(partition_by=inner.c.workflow, order_by=inner.c.at.desc())
            .label("n"),
        )
        sub = ranked.subquery()
        stmt = select(sub).where(sub.c.n <= per_workflow).order_by(sub.c.at.desc())
        return [
            HistoryRow(
                workflow_id=int(r.workflow),
                instance=int(r.instance),
                key=str(r.key),
                library_hours=float(r.library) if r.library is not None else None,
                estimated_hours=float(r.estimated) if r.estimated is not None else None,
                actual_hours=float(r.actual),
                client_id=r.client,
                at=r.at,
            )
            for r in await self.session.execute(stmt)
            if r.actual is not None and r.key is not None
        ]

    # -- for the observer ----------------------------------------------------------------------

    async def in_period(self, start: datetime, end: datetime, ids: Sequence[int]) -> list[Task]:
        """Tasks scheduled, due or finished in [start, end), plus the tasks `ids`."""
        conds = [
            Task.scheduled_start.between(start, end),
            Task.deadline.between(start, end),
            Task.finished_at.between(start, end),
        ]
        if ids:
            conds.append(Task.id.in_(ids))
        return list(await self.session.scalars(select(Task).where(or_(*conds)).order_by(Task.id)))

    async def ids_by_key(self, plan_ids: Sequence[int]) -> dict[tuple[int, str], int]:
        """(plan id, task key) → task id."""
        if not plan_ids:
            return {}
        stmt = select(Task.plan_id, Task.plan_task_key, Task.id).where(
            Task.plan_id.in_(list(plan_ids))
        )
        return {(p, k): i for p, k, i in await self.session.execute(stmt) if p and k}

    async def runs_until(self, start: datetime, end: datetime) -> list[RunWithTask]:
        """Completed runs before `end` (drift needs history), any run started in
        [start, end) and any begun before that was open at `start` (hours logged in it may
        fall in the period), with what their task and process template say about them."""
        instance = func.coalesce(ExecutionRun.process_template_id, Task.process_template_id)
        at = func.coalesce(ExecutionRun.started_at, ExecutionRun.ended_at)
        meta = Task.metadata_
        # The baseline is the library's estimate the task was planned from (planner/
        # estimates.py), the same the planner measures runs against; older tasks that do
        # not carry it fall back to their own estimate.
        baseline = func.coalesce(
            meta["library_hours"].as_float(), Task.estimate_hours, ExecutionRun.estimated_hours
        )
        stmt = (
            select(
                ExecutionRun,
                func.coalesce(meta["workflow_task"].as_string(), Task.plan_task_key),
                func.coalesce(Task.billable, False),
                instance,
                func.coalesce(meta["workflow_id"].as_integer(), ProcessTemplate.workflow_id),
                baseline,
                func.coalesce(Task.status != "done", False),
            )
            .outerjoin(Task, Task.id == ExecutionRun.task_id)
            .outerjoin(ProcessTemplate, ProcessTemplate.id == instance)
            .where(
                at < end,
                or_(
                    ExecutionRun.status == "completed",
                    at >= start,
                    # Begun before but still open or closed since: hours may be logged in it.
                    # A record may end up to a day after its run was closed (a clock running
                    # fast, then the plan cancelled): its hours count on its own day.
                    ExecutionRun.ended_at.is_(None),
                    ExecutionRun.ended_at >= start - WORK_TIME_AHEAD,
                ),
            )
            .order_by(at, ExecutionRun.id)
        )
        return [
            RunWithTask(run, key, bool(billable), inst, workflow_id, baseline, bool(unfinished))
            for run, key, billable, inst, workflow_id, baseline, unfinished in (
                await self.session.execute(stmt)
            )
        ]

    async def workflows_with_completed_runs(self) -> list[int]:
        """Ids of the workflows that have a completed run (through its task or template)."""
        instance = func.coalesce(ExecutionRun.process_template_id, Task.process_template_id)
        stmt = (
            select(ProcessTemplate.workflow_id)
            .select_from(ExecutionRun)
            .outerjoin(Task, Task.id == ExecutionRun.task_id)
            .join(ProcessTemplate, ProcessTemplate.id == instance)
            .where(ExecutionRun.status == "completed", ProcessTemplate.workflow_id.is_not(None))
            .distinct()
        )
        return sorted(int(w) for w in await self.session.scalars(stmt) if w is not None)

    async def workflows_run_for_client(self, client_id: int) -> list[int]:
        """Ids of the workflows with a run of this client's: its task's, or one of its
        plans' (through their tasks or process templates)."""
        instance = func.coalesce(ExecutionRun.process_template_id, Task.process_template_id)
        workflow = func.coalesce(
            Task.metadata_["workflow_id"].as_integer(), ProcessTemplate.workflow_id
        )
        plans = select(Plan.id).where(Plan.client_id == client_id)
        templates = select(Plan.process_template_id).where(
            Plan.client_id == client_id, Plan.process_template_id.is_not(None)
        )
        stmt = (
            select(workflow)
            .select_from(ExecutionRun)
            .outerjoin(Task, Task.id == ExecutionRun.task_id)
            .outerjoin(ProcessTemplate, ProcessTemplate.id == instance)
            .where(
                or_(
                    Task.client_id == client_id,
                    Task.plan_id.in_(plans),
                    instance.in_(templates),
                )
            )
            .distinct()
        )
        return sorted(int(w) for w in await self.session.scalars(stmt) if w is not None)
