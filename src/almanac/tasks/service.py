"""Tasks as an API resource: list, read, edit, record time worked, mark done. Never commits."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from almanac.billing import logged_entries
from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.errors import ValidationFailed
from almanac.models import Task
from almanac.models.status import CLOSED_TASK_STATUSES_API as CLOSED
from almanac.ontology.repository import OntologyRepository
from almanac.ontology.runs import RunService
from almanac.ontology.schemas import RUN_HOURS_MAX, RunOut, RunStopIn
from almanac.planner.estimates import explained_after_task_edit
from almanac.planner.repository import PlanRepository
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler.calendar_model import logged_hours, remaining_hours, removed_hours
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import BlockChanges, CalendarWriteOut
from almanac.tasks.finishing import finish_time, run_ends_by
from almanac.tasks.overlaps import placed_in_time
from almanac.tasks.records import holds_its_hours, same_time
from almanac.tasks.schemas import (
    TaskList,
    TaskOut,
    TaskPatch,
    TaskQuery,
    TaskUpdateOut,
    TimeIn,
    TimeOut,
)
from almanac.tasks.status import require_status_change
from almanac.types import six_decimals

# Frees a closed task's future blocks (True) or shrinks an open one's to its remaining
# estimate (False); returns the blocks it changed.
Fit = Callable[[Task, bool], Awaitable[BlockChanges]]
Hold = Callable[[], Awaitable[None]]  # waits for the schedule's writers (see `TaskService`)
# Writes a renamed task's blocks (not ended) under its new title; None when it has none.
Retitle = Callable[[Task], Awaitable[CalendarWriteOut | None]]


def task_out(task: Task) -> TaskOut:
    # The scheduler's own figures: what the resource says is left is what it plans, and a
    # closed task is planned no more (its estimate less the hours logged said otherwise).
    left = 0.0 if task.status in CLOSED else remaining_hours(task)
    return row_out(
        TaskOut,
        task,
        key=task.plan_task_key,
        logged_hours=round(logged_hours(task), 4),
        removed_hours=round(removed_hours(task), 4),
        remaining_hours=None if left is None else round(left, 4),
        depends_on=[str(d) for d in task.depends_on or ()],
    )


def _both(first: CalendarWriteOut | None, then: CalendarWriteOut | None) -> CalendarWriteOut | None:
    """Two writes to the calendar as one answer: each event by what was done to it."""
    if first is None or then is None:
        return then or first
    done = {
        k: list(dict.fromkeys([*getattr(first, k), *getattr(then, k)]))
        for k in ("created", "updated", "deleted")
    }
    touched = {aid for ids in done.values() for aid in ids}
    unchanged = [a for a in dict.fromkeys([*first.unchanged, *then.unchanged]) if a not in touched]
    return CalendarWriteOut(
        provider=then.provider,
        **done,
        unchanged=unchanged,
        pending=first.pending or then.pending,
        detail="; ".join(d for d in (first.detail, then.detail) if d) or None,
    )


class TaskService:
    """The task resource; `fit` (from the scheduler) frees the future blocks of a closed task
    and shrinks an open one's to its remaining estimate after an edit or a time record.

    An edit or a time record changes what a schedule is solved from (estimate, hours left,
    status) and may change blocks, so it first waits for `hold` (the scheduler's lock): a
    schedule being written meanwhile then either sees the edit or finishes before it, never
    writes blocks for the task as it was.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        tz: ZoneInfo,
        fit: Fit | None = None,
        hold: Hold | None = None,
        retitle: Retitle | None = None,
    ) -> None:
        self.repo = TaskRepository(uow.session)
        self.runs = OntologyRepository(uow.session)
        self.plans = PlanRepository(uow.session)
        self.schedules = SchedulerRepository(uow.session)
        self.tz = tz
        self.fit = fit
        self.hold = hold
        self.retitle = retitle

    async def list(self, query: TaskQuery) -> TaskList:
        """Tasks, the most urgent first; `on` is a day in the user's zone."""
        filters = query.filters()
        on = filters.pop("on")
        day = None
        if on is not None:
            lo = datetime.combine(on, time(0), tzinfo=self.tz)
            day = (lo, datetime.combine(on + timedelta(days=1), time(0), tzinfo=self.tz))
        limit, offset = query.limit, query.offset
        # A task begun yesterday still has today's blocks: the blocks of each plan's
        # current schedule that start that day.
        blocks = []
        if day is not None:
            plan_id = filters.get("plan_id")
            live = await self.plans.ids_not_cancelled(None)
            ids = [p for p in live if plan_id is None or p == plan_id]
            blocks = await self.schedules.task_keys_starting(*day, ids)
        rows, total = await self.repo.search(
            **filters, day=day, limit=limit, offset=offset, with_blocks=blocks
        )
        return TaskList(items=[task_out(t) for t in rows], total=total, limit=limit, offset=offset)

    async def get(self, task_id: int) -> TaskOut:
        return task_out(await self._task(task_id))

    async def _task(self, task_id: int, *, for_update: bool = False) -> Task:
        if for_update and self.hold is not None:  # before the row lock: no waiting in a cycle
            await self.hold()
        return await self.repo.need(task_id, for_update=for_update)

    async def patch(self, task_id: int, body: TaskPatch) -> TaskUpdateOut:
        """Change a task; a deadline not after its earliest start, before a dependency's, or
        after a dependent's, is 422 naming `deadline`."""
        task = await self._task(task_id, for_update=True)
        if body.status is not None and body.status != task.status:
            await require_status_change(self.plans, task, body.status)
        if body.deadline is not None and task.earliest_start is not None:
            # The solver refuses such a task, and it sees every plan's: every schedule failed.
            if body.deadline <= task.earliest_start:
                raise ValidationFailed(
                    f"the deadline {body.deadline.isoformat()} is not after the task's "
                    f"earliest start ({task.earliest_start.isoformat()})",
                    field="deadline",
                )
        if body.deadline is not None and task.plan_id is not None:
            deps = await self.repo.by_keys(task.plan_id, [str(d) for d in task.depends_on or ()])
            for dep in deps:
                if dep.deadline is not None and body.deadline < dep.deadline:
                    raise ValidationFailed(
                        f"the deadline {body.deadline.isoformat()} precedes the deadline of its "
                        f"dependency {dep.plan_task_key!r} ({dep.deadline.isoformat()})",
                        field="deadline",
                    )
            # Moving a task's deadline later must not leave a successor's before it either.
            if task.plan_task_key is not None:
                for nxt in await self.repo.dependents(task.plan_id, task.plan_task_key):
                    if nxt.deadline is not None and nxt.deadline < body.deadline:
                        raise ValidationFailed(
                            f"the deadline {body.deadline.isoformat()} falls after the deadline "
                            f"of {nxt.plan_task_key!r} ({nxt.deadline.isoformat()}), which "
                            "depends on this task",
                            field="deadline",
                        )
        renamed = body.title is not None and body.title != task.title
        if body.title is not None:
            task.title = body.title
        raised = False
        if body.estimate_hours is not None:
            old = task.estimate_hours
            raised = old is not None and body.estimate_hours > old
            task.estimate_hours = body.estimate_hours
            if (task.metadata_ or {}).get("removed_hours"):
                # The estimate set anew: the hours removed from the calendar are planned again.
                meta = dict(task.metadata_ or {})
                meta.pop("removed_hours")
                task.metadata_ = meta
            if old != body.estimate_hours:
                await self._explain_by_hand(task, old)
        if body.priority is not None:
            task.priority = body.priority
        if body.deadline is not None or body.clears_deadline:
            task.deadline = body.deadline
        finished = None if body.finished_at is None else await finish_time(self.runs, task, body)
        changed = BlockChanges()
        if body.status is not None and body.status != task.status:
            task.status = body.status
            # When it was finished, with or without time recorded: reflections count it
            # done then (a task done with no run had no finish time, and counted nowhere).
            task.finished_at = datetime.now(UTC) if body.status == "done" else None
            if body.status in CLOSED:
                changed = await self._close(task)
        if finished is not None:
            task.finished_at = finished
            await run_ends_by(self.runs, task, finished)
        if not changed.blocks and body.estimate_hours is not None and task.status not in CLOSED:
            changed = await self._fit(task)
        if renamed and task.status not in CLOSED and self.retitle is not None:
            # After any fit: its write covers only the blocks it cut; this one the rest.
            await self.repo.flush()
            changed.calendar = _both(changed.calendar, await self.retitle(task))
        await self.repo.flush()
        note = None
        if raised and task.status not in CLOSED:
            note = (
                "the estimate went up; the calendar keeps its blocks as they are: "
                "schedule or replan the plan to place the extra hours"
            )
        elif (
            finished is not None
            and finished.astimezone(self.tz).date() < datetime.now(self.tz).date()
        ):
            # A reflection is a snapshot (reflecting again replaces it): one made for that day
            # or week still counts the task not done there.
            day = finished.astimezone(self.tz).date().isoformat()
            note = (
                f"finished on {day}: a reflection already made for that day or week keeps its "
                f"numbers until it is made again (POST /api/v1/observer/reflect?date={day})"
            )
        return TaskUpdateOut(
            task=task_out(task),
            released_blocks=sum(c.change == "freed" for c in changed.blocks),
            blocks=changed.blocks,
            calendar=changed.calendar,
            note=note,
        )

    async def _explain_by_hand(self, task: Task, was: float | None) -> None:
        """The plan stops explaining the task's new estimate as calibrated from history."""
        if task.plan_id is None or task.plan_task_key is None or task.estimate_hours is None:
            return
        plan = await self.plans.for_edit(task.plan_id)
        meta = plan.metadata_ if plan is not None and isinstance(plan.metadata_, dict) else None
        if plan is None or meta is None:
            return
        explained = explained_after_task_edit(
            meta, task.plan_task_key, was, float(task.estimate_hours), task.id
        )
        if explained:
            plan.metadata_ = {**meta, **explained}

    async def cancel_open(self, plan_id: int) -> builtins.list[int]:
        """A cancelled plan's tasks not closed yet are cancelled with it, their timers
        stopped (they stayed to do, and took time that counted); what was done stays done.
        The plan's future blocks were freed with it."""
        tasks = await self.repo.open_of_plan(plan_id)
        for task in tasks:
            task.status, task.finished_at = "cancelled", None
            await self._close_runs(task)
        return [task.id for task in tasks]

    async def _close(self, task: Task) -> BlockChanges:
        await self._close_runs(task)
        return await self._fit(task)

    async def _close_runs(self, task: Task) -> None:
        # Every open run, not only the latest: hours recorded and then a timer started are
        # two, and the one left open stayed in progress on the closed task for good.
        now = datetime.now(UTC)
        for run in await self.runs.task_runs(task.id, "in_progress"):
            run.status = "completed" if task.status == "done" else "cancelled"
            # The work ended when its last hours were logged, not when the task is closed:
            # estimates weigh runs by when they happened (a week's log closed later counted
            # as work done today, and the plan said its latest run was today).
            # An entry may end up to a day ahead (a clock running fast): never after now.
            logged = [end for end, _ in logged_entries(run.metadata_)]
            run.ended_at = run.ended_at or min(max(logged, default=now), now)
            holds_its_hours(run, run.ended_at, run.ended_at)

    async def _fit(self, task: Task) -> BlockChanges:
        if self.fit is None:
            return BlockChanges()
        await self.repo.flush()  # the blocks are fitted to the task as it now is
        return await self.fit(task, task.status in CLOSED)

    async def stop_run(self, runs: RunService, run_id: int, body: RunStopIn) -> RunOut:
        """Stop an execution run; its task's future blocks then hold what is left of the
        estimate, as after a time record (a timer stopped early left the calendar holding
        blocks for hours no longer planned)."""
        if self.hold is not None:  # before the run's and the task's row locks
            await self.hold()
        out = await runs.stop(run_id, body)
        if out.task_id is not None:
            task = await self.repo.need(out.task_id)  # locked by the stop
            await self._fit(task)
        return out

    async def log_time(self, task_id: int, body: TimeIn) -> TimeOut:
        """Record hours worked: creates the task's execution run or extends it."""
        task = await self._task(task_id, for_update=True)
        if task.status == "cancelled":
            raise ValidationFailed("the task is cancelled; no time can be recorded", field="hours")
        now = datetime.now(UTC)
        ended = body.ended_at or now
        # The entry keeps the end it was given; the run's times never pass now (an entry may
        # end up to a day ahead: a clock running fast).
        until = min(ended, now)
        run = await self.runs.run_for_task(task.id)
        meta: dict[str, Any] = dict(run.metadata_ or {}) if run is not None else {}
        keys = list(meta.get("idempotency_keys") or [])
        if body.idempotency_key is not None and body.idempotency_key in keys and run is not None:
            same_time(body, meta.get("entries"))
            return TimeOut(
                task=task_out(task),
                execution_run_id=run.id,
                actual_hours=float(run.actual_hours or 0),
                duplicate=True,
            )
        held = float(run.actual_hours or 0) if run is not None else 0.0
        if held + body.hours > RUN_HOURS_MAX:
            # What the runs endpoint accepts for a run: records of up to 24 h added up past
            # it without bound.
            raise ValidationFailed(
                f"{held:g} h are recorded on this task; {body.hours:g} h more would pass the "
                f"{RUN_HOURS_MAX} h an execution run may hold",
                field="hours",
            )
        warnings: builtins.list[str] = []
        if body.ended_at is not None:
            began = ended - timedelta(hours=body.hours)
            warnings = await placed_in_time(self.runs, task.id, began, ended, now, self.tz)
        finished = task.finished_at if task.status == "done" else None
        if finished is not None and body.ended_at is None:
            # Hours without an end say how much, not when: a done task's were worked by its
            # finish (recorded today on a task finished weeks ago, its run ended today).
            until = min(until, finished)
        elif finished is not None and until > finished:
            # Work placed after the finish: the task was finished no earlier than that work
            # (as `finished_at` given in a PATCH is never before it).
            task.finished_at = until
        if body.idempotency_key is not None:
            keys = [*keys[-99:], body.idempotency_key]
        entry: dict[str, Any] = {
            "hours": body.hours,
            "ended_at": ended.isoformat(),
            "note": body.note,
        }
        if body.ended_at is not None:
            entry["timed"] = True
        if body.idempotency_key is not None:
            entry["key"] = body.idempotency_key
        if run is None:
            run = await self.runs.new_run(
                process_template_id=task.process_template_id,
                task_id=task.id,
                started_at=until - timedelta(hours=body.hours),
                ended_at=until if task.status == "done" else None,
                actual_hours=body.hours,
                estimated_hours=(
                    None if task.estimate_hours is None else six_decimals(task.estimate_hours)
                ),
                status="completed" if task.status == "done" else "in_progress",
                metadata_={"entries": [entry], "idempotency_keys": keys, "source": "tasks"},
            )
        else:
            started, stopped = run.started_at, run.ended_at
            if not meta.get("entries") and started and stopped and started < stopped:
                # A run started and stopped: its own time still counts against overlaps
                # once records are added and its start and end move to hold them.
                meta["span"] = [started.isoformat(), stopped.isoformat()]
            elif not meta.get("entries") and started and stopped is None:
                # A timer running: its stop adds its own time from here to the records.
                meta.setdefault("timer", started.isoformat())
            run.actual_hours = float(run.actual_hours or 0) + body.hours
            if run.estimated_hours is not None:  # one started before estimates were rounded
                run.estimated_hours = six_decimals(run.estimated_hours)
            run.metadata_ = {**meta, "entries": [*meta.get("entries", []), entry]}
            run.metadata_["idempotency_keys"] = keys
            if run.ended_at is not None:  # a done task's run ends with its last work
                run.ended_at = max(run.ended_at, until)
            # While open, its last work is its latest record's end (this one may be earlier).
            last = max([until, *(min(end, now) for end, _ in logged_entries(run.metadata_))])
            holds_its_hours(run, until - timedelta(hours=body.hours), last)
        # Every run's hours: a timer stopped earlier is another run, and mirroring this one
        # alone made the total drop when more time was recorded.
        others = await self.runs.other_runs_hours(task.id, run.id)
        total = others + float(run.actual_hours or 0)
        task.metadata_ = {**(task.metadata_ or {}), "logged_hours": total}
        if task.status == "todo":
            task.status = "in_progress"
        changed = await self._fit(task)
        await self.repo.flush()
        return TimeOut(
            task=task_out(task),
            execution_run_id=run.id,
            actual_hours=float(run.actual_hours or 0),
            blocks=changed.blocks,
            calendar=changed.calendar,
            warnings=warnings,
        )
