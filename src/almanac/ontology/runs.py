"""Execution runs: start and stop work sessions; Postgres computes their variance."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from almanac.billing import Span, first_overlap, logged_entries, overlap_text
from almanac.clock import on_clock
from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.errors import Conflict, ValidationFailed
from almanac.models import ExecutionRun, Task
from almanac.models.status import CLOSED_TASK_STATUSES_API
from almanac.ontology.repository import OntologyRepository
from almanac.ontology.schemas import (
    RUN_HOURS_MAX,
    TIMED_HOURS_MAX,
    RunList,
    RunOut,
    RunQuery,
    RunStartIn,
    RunStopIn,
)
from almanac.types import MIN_WORK_HOURS, WORK_TIME_AHEAD, six_decimals

# Fields of a start request that a retry with the same run_identifier must repeat.
_SAME = ("process_template_id", "task_id", "estimated_hours", "started_at", "telemetry", "metadata")


# Where a run still running ends, for overlaps: not yet, so after all the task's work.
_OPEN_END = datetime.max.replace(tzinfo=UTC)


def run_out(row: ExecutionRun) -> RunOut:
    return row_out(RunOut, row)


def _stored(row: ExecutionRun, name: str) -> Any:
    return row.metadata_ if name == "metadata" else getattr(row, name)


def _until_now(value: datetime | None) -> datetime:
    """A run's start or end as stored: never after now, as a task's time record's run.

    The schema lets either lie up to a day ahead (a clock running fast); stored as given,
    a stop without a body ended before its own start (a 422 on a field never sent) and an
    end given ahead counted hours not yet worked."""
    now = datetime.now(UTC)
    return now if value is None else min(value, now)


def _same_stop(row: ExecutionRun, body: RunStopIn) -> bool:
    """Whether a stop of a completed run repeats the one that completed it: the same end
    given, and the same hours and telemetry if given. Only an end given can say so (a stop
    without one means now, which a retry's now is not)."""
    if row.status != "completed" or body.ended_at is None or row.ended_at is None:
        return False
    if _until_now(body.ended_at) != row.ended_at:
        return False
    hours = body.actual_hours
    if hours is not None and (row.actual_hours is None or abs(hours - row.actual_hours) > 1e-6):
        return False
    return body.telemetry is None or body.telemetry == row.telemetry


def finished_by(task: Task, worked_until: datetime) -> None:
    """A done task was finished no earlier than the work on it: a run stopped after its
    `finished_at` (one started before the task was closed) moves the finish there, as a
    time record placed after it does (`TaskService.log_time`). The run is kept as given:
    its hours were worked, and a finish left before them counted the task done a week
    before its last work."""
    if task.status == "done" and task.finished_at is not None and task.finished_at < worked_until:
        task.finished_at = worked_until


def _open_for_timing(task: Task, tz: ZoneInfo) -> None:
    """A 409 for a run started on a closed task: closing it stops its run, and nothing
    would stop one started after (it stayed in progress for good, its hours never
    counted). Hours worked on a done task are recorded with their end instead."""
    if task.status not in CLOSED_TASK_STATUSES_API:
        return
    if task.status == "done":
        at = on_clock(task.finished_at, tz) if task.finished_at else ""
        since = f" (finished {at})" if at else ""
        hint = (
            "reopen it (status in_progress) to time more work, or record the hours worked "
            f"with POST /api/v1/planner/tasks/{task.id}/time (`almanac log`)"
        )
    else:
        since, hint = "", "reopen it (status todo or in_progress) to work on it"
    raise Conflict(
        f"task {task.id} is {task.status}{since}: no run can be started on it; {hint}",
        errors=[{"field": "task_id", "message": f"task {task.id} is {task.status}"}],
    )


def refuse_overlap(start: datetime, end: datetime, spans: Iterable[Span], field: str) -> None:
    """A 409 naming the first record of the same task that [start, end) shares time with;
    a run's stop and a task's time record are refused alike."""
    hit = first_overlap(start, end, spans)
    if hit is not None:
        raise Conflict(
            overlap_text(start, end, hit),
            errors=[{"field": field, "message": f"overlaps {hit[2]}"}],
        )


def timer_start(row: ExecutionRun, meta: dict[str, Any]) -> datetime | None:
    """When the run's own clock started: its start before time records moved it (`timer`,
    kept by `TaskService.log_time`); None for the run `log_time` keeps, which times nothing."""
    if meta.get("source") == "tasks" or (meta.get("entries") and "timer" not in meta):
        return None  # (records added before their timer's start was kept: elapsed, below)
    try:
        return datetime.fromisoformat(str(meta["timer"])) if "timer" in meta else row.started_at
    except ValueError:
        return None


def _differs(row: ExecutionRun, name: str, given: Any) -> bool:
    stored = _stored(row, name)
    if name == "started_at" and stored is not None and given > stored:
        # A start given ahead of now was stored as now: its retry names the same start.
        return bool(given - stored > WORK_TIME_AHEAD)
    return bool(given != stored)


class RunService:
    """Start, stop and read execution runs."""

    def __init__(self, uow: UnitOfWork, tz: ZoneInfo | None = None) -> None:
        self.uow = uow
        self.repo = OntologyRepository(uow.session)
        self.tz = tz or ZoneInfo("UTC")  # the user's zone, for times in messages

    def _same_or_conflict(self, row: ExecutionRun, body: RunStartIn) -> RunOut:
        """A retry returns the stored run; a different run under the same identifier is 409."""
        differs = [
            name
            for name in _SAME
            if name in body.model_fields_set
            and getattr(body, name) is not None
            and _differs(row, name, getattr(body, name))
        ]
        if differs:
            raise Conflict(
                f"run_identifier {row.run_identifier!r} was already used for run {row.id}, "
                f"which differs in {', '.join(differs)}; use a new identifier for a new run",
                errors=[{"field": f, "message": "differs from the stored run"} for f in differs],
            )
        return run_out(row)

    async def start(self, body: RunStartIn) -> tuple[RunOut, bool]:
        """Start a run; returns it and whether it is new (False: an idempotent retry)."""
        if body.run_identifier is not None:
            prior = await self.repo.run_by_identifier(body.run_identifier)
            if prior is not None:
                return self._same_or_conflict(prior, body), False
        template_id = body.process_template_id
        if template_id is not None and await self.repo.existing_template(template_id) is None:
            raise ValidationFailed(
                f"no process template with id {template_id}", field="process_template_id"
            )
        estimated = body.estimated_hours
        started = _until_now(body.started_at)
        if body.task_id is not None:
            # Locked: a concurrent record on the task sees this run or is seen by it.
            task = await self.repo.existing_task(body.task_id, lock="edit")
            if task is None:
                raise ValidationFailed(f"no task with id {body.task_id}", field="task_id")
            if body.run_identifier is not None:
                # A concurrent retry that held the lock first has started this very run:
                # the retry answers with it, not with a 409 for the timer it started.
                prior = await self.repo.run_by_identifier(body.run_identifier)
                if prior is not None:
                    return self._same_or_conflict(prior, body), False
            _open_for_timing(task, self.tz)
            # Also a run started now: a record may end up to a day ahead.
            await self._no_overlap(
                task.id, started, None, "started_at", given=body.started_at is not None
            )
            if task.process_template_id is not None:
                if template_id is None:
                    template_id = task.process_template_id
                elif template_id != task.process_template_id:
                    raise ValidationFailed(
                        f"task {task.id} belongs to process template "
                        f"{task.process_template_id}, not {template_id}",
                        field="task_id",
                    )
            if estimated is None and task.estimate_hours is not None:
                estimated = six_decimals(task.estimate_hours)
            if task.status == "todo":  # as time recorded on it does (`TaskService.log_time`)
                task.status = "in_progress"
        row = await self.repo.insert_run(
            {
                "process_template_id": template_id,
                "task_id": body.task_id,
                "run_identifier": body.run_identifier,
                "started_at": started,
                "estimated_hours": estimated,
                "status": "in_progress",
                "telemetry": body.telemetry,
                "metadata": body.metadata,
            }
        )
        if row is None:  # a concurrent request with the same identifier committed first
            assert body.run_identifier is not None
            prior = await self.repo.run_by_identifier(body.run_identifier)
            assert prior is not None
            return self._same_or_conflict(prior, body), False
        out = run_out(row)
        if body.task_id is not None:
            out.warnings = await self._timers_elsewhere(body.task_id)
        return out, True

    async def _timers_elsewhere(self, task_id: int) -> list[str]:
        """Not refused (a call taken while a report is timed is real), but said: both
        timers count the time from now, and one left running is the usual mistake."""
        return [
            f"run {run.id} on task {run.task_id} ({title!r}) is still running too (started "
            f"{on_clock(run.started_at, self.tz)}): both count the time from now; stop it "
            "if you switched"
            for run, title in await self.repo.timers_elsewhere(task_id)
            if run.started_at is not None
        ]

    async def stop(self, run_id: int, body: RunStopIn) -> RunOut:
        """Complete a run; actual hours default to the time elapsed since it started."""
        seen = await self.repo.by_id(ExecutionRun, run_id)
        task = None
        if seen is not None and seen.task_id is not None:
            # The task before the run, in the order a time record locks them (no deadlock).
            task = await self.repo.existing_task(seen.task_id, lock="edit")
        row = await self.repo.require(ExecutionRun, run_id, "execution run", lock="edit")
        if row.status == "completed" or row.ended_at is not None:
            if _same_stop(row, body):
                return run_out(row)  # a retry whose answer was lost: the run it stopped
            ended = f"at {on_clock(row.ended_at, self.tz)}" if row.ended_at else "earlier"
            raise Conflict(f"execution run {run_id} was already stopped ({ended})", field="run_id")
        ended_at = _until_now(body.ended_at)
        if row.started_at is not None and ended_at < row.started_at:
            raise ValidationFailed(
                f"ended_at must not be before started_at ({on_clock(row.started_at, self.tz)})",
                field="ended_at",
            )
        actual, given = body.actual_hours, body.ended_at
        if (
            actual is not None
            and given is not None
            and row.started_at is not None
            and given > row.started_at
        ):
            # Both ends known: more hours than lie between them is no work that was done
            # (a hundredth of an hour over is rounding). Without an end given, or with the
            # end at the start (a run recorded at one instant, as imports and scripts that
            # know only the day do), the hours given stand for a session recorded after
            # the fact. Measured to the end given, in the caller's clock: one running a
            # little fast still gives hours that fit its own start and end.
            span = round((given - row.started_at).total_seconds() / 3600, 4)
            if actual > span + MIN_WORK_HOURS:
                raise ValidationFailed(
                    f"{actual:g} h is more than the {span:g} h between started_at "
                    f"({on_clock(row.started_at, self.tz)}) and ended_at "
                    f"({on_clock(given, self.tz)})",
                    field="actual_hours",
                )
        meta = dict(row.metadata_ or {})
        recorded = float(row.actual_hours or 0) if logged_entries(meta) else 0.0
        timer = timer_start(row, meta)
        if actual is not None and actual < recorded - MIN_WORK_HOURS:
            raise ValidationFailed(
                f"time records on this run hold {recorded:g} h already; actual_hours "
                f"({actual:g}) must not be less",
                field="actual_hours",
            )
        if actual is None:
            if row.started_at is None:
                raise ValidationFailed(
                    "the run has no started_at; give actual_hours", field="actual_hours"
                )
            # The hours recorded on the run while it ran, and its own time on the clock
            # (from its start before records moved it): the elapsed time alone replaced
            # the records, and counted the hours between a record placed days back and
            # the timer's start as worked.
            own = (ended_at - timer).total_seconds() / 3600 if timer is not None else 0.0
            actual = round(recorded + max(own, 0.0), 4)
            if timer is None and meta.get("source") != "tasks":
                actual = max(actual, round((ended_at - row.started_at).total_seconds() / 3600, 4))
            # A task's timer past a day was left running (started Friday, stopped Monday:
            # 64 h of work), not work done: the hours are asked for, as a record of more
            # than a day's (`POST /tasks/{id}/time`, at most 24 h) is refused. A process's
            # run (no task) times the whole engagement, days long.
            if row.task_id is not None and timer is not None and own > TIMED_HOURS_MAX:
                raise ValidationFailed(
                    f"the run was timed for {own:.4g} h since {on_clock(timer, self.tz)}, "
                    f"more than {TIMED_HOURS_MAX} h: a timer left running? give "
                    "actual_hours, the hours worked (the CLI's --hours)",
                    field="actual_hours",
                )
            # A run may span days (paused and resumed), but the hours it stores are the
            # same quantity a caller may give, bounded alike.
            if actual > RUN_HOURS_MAX:
                raise ValidationFailed(
                    f"the run lasted {actual:g} h since {row.started_at.isoformat()}, more "
                    f"than {RUN_HOURS_MAX} h; give actual_hours",
                    field="actual_hours",
                )
        if recorded and timer is not None and timer < ended_at:
            # Its own timed work, which its start (moved to hold the records) no longer
            # says, counts against overlaps as `TaskService.log_time` keeps it.
            row.metadata_ = {**meta, "span": [timer.isoformat(), ended_at.isoformat()]}
        if row.task_id is not None and row.started_at is not None:
            since = timer if recorded and timer is not None else row.started_at
            await self._no_overlap(row.task_id, since, ended_at, "ended_at", but=row.id)
        if row.started_at is not None and recorded:
            # The run holds its hours between its start and its end (as `log_time` keeps it).
            row.started_at = min(row.started_at, ended_at - timedelta(hours=actual))
        if task is not None and task.id == row.task_id:
            finished_by(task, ended_at)
            # The task's logged hours (what the scheduler plans the rest from) count the
            # timer too, as `TaskService.log_time` counts every run.
            others = await self.repo.other_runs_hours(task.id, row.id)
            task.metadata_ = {**(task.metadata_ or {}), "logged_hours": others + actual}
        row.ended_at = ended_at
        row.actual_hours = actual
        if row.estimated_hours is not None:  # one started before estimates were rounded
            row.estimated_hours = six_decimals(row.estimated_hours)
        row.status = "completed"
        if body.telemetry is not None:
            row.telemetry = body.telemetry
        # The refresh reads variance_pct, which Postgres computes from the new hours.
        return run_out(await self.repo.save(row))

    async def _no_overlap(
        self,
        task_id: int,
        start: datetime,
        end: datetime | None,
        field: str,
        *,
        but: int | None = None,
        given: bool = True,
    ) -> None:
        """A 409 naming the record of the same task that [start, end) shares time with
        (`end` None: a run started at `start` and still running). One task's work is one
        session at a time: an overlap counts the same hours twice. A start not `given`
        (now) is not named: the run clashes by its task, not by a time the caller sent."""
        spans = await self.repo.task_spans(task_id, but=but)
        if end is None:
            # A run started runs until it is stopped: it shares time with every timer of
            # the task still running, whenever that started (checking only those started
            # before `start` took a second timer started earlier, which then could not be
            # stopped), and with all the task's work after `start`.
            timer = await self.repo.open_timer(task_id)
            if timer is not None and timer.started_at is not None:
                # The field's reason is the detail's: a shorter one of its own was shown
                # after it by every client ("...; stop it first (--at: run 2 is running)").
                reason = (
                    f"execution run {timer.id} of the same task is still running (started "
                    f"{on_clock(timer.started_at, self.tz)}); stop it first"
                )
                if not given:  # `almanac runs start 7` said "--at 2026-...: ..." unasked
                    raise Conflict(reason, errors=[{"field": "task_id", "message": reason}])
                raise Conflict(
                    f"started_at {on_clock(start, self.tz)}: {reason}",
                    errors=[{"field": field, "message": reason}],
                )
            hit = first_overlap(start, _OPEN_END, spans)
            if hit is not None:
                lo, hi = on_clock(hit[0], self.tz), on_clock(hit[1], self.tz)
                reason = (
                    f"a run started {'then' if given else 'now'}, running until it is "
                    f"stopped, overlaps {hit[2]} ({lo} to {hi}) on the same task; start it "
                    f"after {hi}, or record the hours worked instead"
                )
                if not given:  # no start was sent: name the task, not a time never given
                    raise Conflict(reason, errors=[{"field": "task_id", "message": reason}])
                raise Conflict(
                    f"started_at {on_clock(start, self.tz)}: {reason}",
                    errors=[{"field": field, "message": f"overlaps {hit[2]}"}],
                )
            return
        if start < end:
            refuse_overlap(start, end, spans, field)

    async def get(self, run_id: int) -> RunOut:
        return run_out(await self.repo.require(ExecutionRun, run_id, "execution run"))

    async def list(self, query: RunQuery) -> RunList:
        stmt = self.repo.runs_query(**query.filters())
        # Newest work first: the run just started (the one to stop) is on the first page.
        order = [ExecutionRun.started_at.desc().nulls_last(), ExecutionRun.id.desc()]
        rows, total = await self.repo.page(stmt, order, query.limit, query.offset)
        return RunList(items=[run_out(r) for r in rows], total=total)
