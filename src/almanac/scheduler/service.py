"""The scheduler service: read busy time and preferences, solve, validate, write. Never commits.

Order of a write (`dry_run=false`): everything is read and solved first; then the database
changes (tasks, plan status, the run) are flushed; the calendar is written last. If the
calendar fails, the error propagates and the request's transaction rolls back, so Postgres
never claims blocks the calendar does not have. A preview needs busy time too, so an
unreachable calendar is a 503 for previews as well (a preview that ignores meetings would
mislead).

Writers of the schedule (schedule, replan, apply, a manual move, a task closed, the calendar
sync) take one transaction-level lock (`SchedulerRepository.lock_calendar`) before reading
anything they write from, so they run one after another; previews read without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from almanac.calendars.base import CalendarEvent, CalendarProvider
from almanac.config import SchedulerSettings
from almanac.db.uow import UnitOfWork
from almanac.errors import Conflict, NotFound, ValidationFailed
from almanac.llm.base import LLMClient
from almanac.memory.port import MemoryPort
from almanac.models import Plan, SchedulerRun
from almanac.models import Task as TaskRow
from almanac.models.status import SOLVED_PLAN_STATUSES
from almanac.planner.repository import PlanRepository, PromptRepository
from almanac.planner.status import RESCHEDULABLE, require_schedulable
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler import answer, finished_tasks, pin_order, staleness
from almanac.scheduler import calendar_model as cm
from almanac.scheduler import problem as pb
from almanac.scheduler.core import Block, Problem, Schedule, validate
from almanac.scheduler.preference_facts import PreferenceFacts, Preferences
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import (
    MAX_HORIZON_DAYS,
    BlockOut,
    PreferencesOut,
    ReplanIn,
    ReplanOut,
    ReplanScope,
    ScheduleIn,
    ScheduleOut,
    SchedulingPreferences,
)
from almanac.scheduler.solve_limits import new_work, sprint_limits
from almanac.scheduler.writer import Writer, stated_window

# Times the preferences are read again when they changed while the LLM was reading them.
READ_ATTEMPTS = 3


@dataclass
class Context:
    """What one solve needs besides the tasks, gathered before anything is written."""

    plan: Plan
    tz: ZoneInfo
    now: datetime
    start_date: date
    days: int
    window: tuple[datetime, datetime]
    events: list[CalendarEvent]
    warnings: list[str] = field(default_factory=list)
    write_window: tuple[datetime, datetime] | None = None
    replan_scope: ReplanScope = "repair"
    places_new: bool = False  # /schedule: the plan's tasks without blocks are new work

    @property
    def calendar_window(self) -> tuple[datetime, datetime]:
        """Where the calendar is written: `write_window` when set, else the solve's window."""
        return self.write_window or self.window


@dataclass
class Solved:
    problem: Problem
    schedule: Schedule
    titles: dict[str, str]
    task_ids: dict[str, int]
    violations: list[str]
    prefs: PreferencesOut
    inputs: cm.CalendarInputs
    fingerprint: dict[str, Any]
    notes: dict[tuple[str, datetime], str] = field(default_factory=dict)  # pin_order's
    # The preferences as read from memory (None when memory could not be read): kept on
    # the run, for a later solve while memory is unavailable.
    read_from_memory: SchedulingPreferences | None = None


class SchedulerService:
    """Schedule and replan plans into the configured calendar."""

    def __init__(
        self,
        uow: UnitOfWork,
        calendar: CalendarProvider,
        *,
        memory: MemoryPort,
        llm: LLMClient | None,
        settings: SchedulerSettings,
        timezone: str,
    ) -> None:
        self.uow = uow
        self.repo = SchedulerRepository(uow.session)
        self.plans = PlanRepository(uow.session)
        self.tasks = TaskRepository(uow.session)
        self.prompts = PromptRepository(uow.session)
        self.calendar = calendar
        self.memory = memory
        self.llm = llm
        self.settings = settings
        self.timezone = timezone
        self.preference_facts = PreferenceFacts(memory, self.prompts, llm, settings, self.repo)

    # -- public ------------------------------------------------------------------------------

    async def schedule(self, body: ScheduleIn) -> ScheduleOut:
        """Preview (dry run) or write a plan's schedule; stores a scheduler_run either way.

        With `run_id` (and `dry_run=false`) the previewed run is written exactly, or 409 when
        the calendar, a plan's schedule or a task changed since the preview; 422 naming
        `start_date`, `horizon_days` or `scope` when sent and not the preview's.
        """
        if body.run_id is not None:  # a preview is written as it was shown: nothing to read
            plan = await self._plan(body.plan_id, for_update=not body.dry_run)
            if plan.status not in RESCHEDULABLE:
                require_schedulable(plan.status, plan.id)
            if body.dry_run:
                raise ValidationFailed(
                    "run_id applies a preview; set dry_run=false", field="run_id"
                )
            now, given = datetime.now(UTC), stated_window(body)  # the preview's, or 422
            return await Writer(self).apply_preview(plan, body.run_id, self.tz(), now, given)
        plan, prefs = await self._plan_and_preferences(
            body.plan_id, for_update=not body.dry_run, keep=RESCHEDULABLE
        )
        if plan.status not in RESCHEDULABLE:  # scheduling again replaces the plan's blocks
            require_schedulable(plan.status, plan.id)
        tz = self.tz()
        now = datetime.now(UTC)
        start = body.start_date or now.astimezone(tz).date()
        ctx = await self._context(plan, tz, now, start, body.horizon_days)
        ctx.replan_scope, ctx.places_new = body.scope, True
        solved = await self._solve(ctx, prefs)
        cm.require_working_time(solved.problem, start, body.horizon_days)
        return await Writer(self).finish(ctx, solved, body.dry_run, {})

    async def replan(self, body: ReplanIn) -> ReplanOut:
        """Re-solve against the last written schedule and report what moved and why; with
        `run_id` (and `dry_run=false`) write that preview exactly, as /schedule does."""
        if body.run_id is not None:  # a preview is written as it was shown: nothing to read
            plan = await self._plan(body.plan_id, for_update=not body.dry_run)
            if plan.status != "active":
                require_schedulable(plan.status, plan.id)
            return await self._apply_replan_preview(plan, body)
        plan, prefs = await self._plan_and_preferences(
            body.plan_id, for_update=not body.dry_run, keep=("active",)
        )
        if plan.status != "active":  # work under way may be replanned; it stays active
            require_schedulable(plan.status, plan.id)
        last = await self.repo.last_applied_run(plan.id)
        if last is None:
            message = f"plan {plan.id} has no written schedule to replan; use /schedule"
            raise Conflict(message, errors=[{"field": "plan_id", "message": message}])
        tz = self.tz()
        now = datetime.now(UTC)
        today = now.astimezone(tz).date()
        meta = last.metadata_ or {}
        prev_start = date.fromisoformat(meta.get("start_date", today.isoformat()))
        prev_end = prev_start + timedelta(days=int(meta.get("horizon_days", 14)))
        start = max(today, prev_start)
        days = (prev_end - start).days if prev_end > start else int(meta.get("horizon_days", 14))
        ctx = await self._context(plan, tz, now, start, min(max(days, 1), MAX_HORIZON_DAYS))
        ctx.replan_scope = body.scope
        solved = await self._solve(ctx, prefs)
        extra = {"reason": body.reason, "previous_run_id": last.id}
        base = await Writer(self).finish(ctx, solved, body.dry_run, extra)
        return ReplanOut(**base.model_dump(), reason=body.reason, previous_run_id=last.id)

    async def _apply_replan_preview(self, plan: Plan, body: ReplanIn) -> ReplanOut:
        """Write replan preview `body.run_id` exactly as it was shown (or 409 with what
        changed): a fresh solve after the preview could write something else. The reason
        kept is the preview's, as the run written records it."""
        assert body.run_id is not None
        if body.dry_run:
            raise ValidationFailed("run_id applies a preview; set dry_run=false", field="run_id")
        now, given = datetime.now(UTC), stated_window(body)  # the preview's scope, or 422
        out = await Writer(self).apply_preview(plan, body.run_id, self.tz(), now, given, True)
        run = await self.repo.run(body.run_id)
        meta = (run.metadata_ if run else None) or {}
        previous = meta.get("previous_run_id")
        return ReplanOut(
            **out.model_dump(),
            reason=meta.get("reason") if isinstance(meta.get("reason"), str) else None,
            previous_run_id=previous if isinstance(previous, int) else None,
        )

    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise ValidationFailed(
                f"unknown IANA time zone {self.timezone!r}", field="timezone"
            ) from exc

    # -- steps -------------------------------------------------------------------------------

    async def _plan(self, plan_id: int, *, for_update: bool) -> Plan:
        """The plan; `for_update` (a write) first waits for the schedule's lock, then locks it."""
        if for_update:  # the lock before any row lock, so writers never wait in a cycle
            await self.repo.lock_calendar()
        plan = await self.plans.get(plan_id, for_update=for_update)
        if plan is None:
            raise NotFound(
                f"plan {plan_id} not found",
                errors=[{"field": "plan_id", "message": f"no plan {plan_id}"}],
            )
        return plan

    async def _plan_and_preferences(
        self, plan_id: int, *, for_update: bool, keep: tuple[str, ...]
    ) -> tuple[Plan, Preferences]:
        """The plan (locked for a write) and its client's preferences.

        With an LLM, the preferences are read first, the read transaction ends and the LLM
        answers while this request holds no connection and no lock; then the plan is locked
        and the facts and prompt are read again. If they changed meanwhile, the reading is
        redone (up to `READ_ATTEMPTS` times, then 409).
        """
        for _ in range(READ_ATTEMPTS):
            plan = await self._plan(plan_id, for_update=False)
            if plan.status not in keep:
                require_schedulable(plan.status, plan.id)  # refuse before asking anyone
            prefs = await self.preference_facts.read(plan.client_id, self.uow.end_reads)
            plan = await self._plan(plan_id, for_update=for_update)
            if not prefs.asked_llm:
                return plan, prefs
            facts, prompt, _ = await self.preference_facts.inputs(plan.client_id)
            if (plan.client_id, facts, prompt) == (prefs.client_id, prefs.facts, prefs.prompt):
                return plan, prefs
            await self.uow.end_reads()  # nothing written yet: drop the lock and read again
        raise Conflict(
            f"the preferences of plan {plan_id} kept changing while they were read; retry",
            errors=[{"field": "plan_id", "message": "preferences changed during the request"}],
        )

    async def _context(
        self, plan: Plan, tz: ZoneInfo, now: datetime, start: date, days: int
    ) -> Context:
        begin = datetime.combine(start, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(start + timedelta(days=days), datetime.min.time(), tzinfo=tz)
        if end <= now:
            raise ValidationFailed("the horizon lies entirely in the past", field="start_date")
        # Scheduling again replaces the plan's blocks entirely: the write covers the previous
        # window too, so blocks of a longer earlier window do not stay behind as orphans.
        last = await self.repo.last_applied_run(plan.id)
        write = (begin, end)
        if last is not None:
            # Its blocks too: one placed or kept outside that window (by another plan's
            # solve) stayed in the calendar beside its replacement, twice the hours.
            spans = [(b.start, b.end) for b in pb.blocks_from_json(last.schedule_blocks)]
            if "window_start" in (last.metadata_ or {}):
                w0 = datetime.fromisoformat(last.metadata_["window_start"])
                spans.append((w0, datetime.fromisoformat(last.metadata_["window_end"])))
            if spans:
                w0, w1 = min(a for a, _ in spans), max(b for _, b in spans)
                write = (max(min(begin, w0), min(begin, now)), max(end, w1))
        events = await self.calendar.events(*write)
        # A dense series read as continuous busy stretches (calendars/runs.py) is said once.
        notes = sorted({e.note for e in events if e.note})
        return Context(plan, tz, now, start, days, (begin, end), events, notes, write_window=write)

    async def _solve(self, ctx: Context, read: Preferences) -> Solved:
        """Solve the whole calendar: every open task of every approved/scheduled/active plan."""
        plans = await self.plans.with_status(SOLVED_PLAN_STATUSES)
        plan_ids = sorted({p.id for p in plans} | {ctx.plan.id})
        rows = await self.tasks.open_of(plan_ids)
        runs = await self.repo.last_applied_runs(plan_ids)
        # A replan keeps the plan's blocks another plan's solve placed outside its window...
        mark = len(ctx.warnings)
        solved = await self._solve_once(ctx, read, plans, rows, runs)
        free, lines = pin_order.releasable(solved.problem, solved.schedule, solved.inputs, ctx.tz)
        if free:  # ...but not one left there without its dependency before it: solved again
            del ctx.warnings[mark:]
            solved = await self._solve_once(ctx, read, plans, rows, runs, free)
            ctx.warnings.extend(lines)
        return solved

    async def _solve_once(
        self,
        ctx: Context,
        read: Preferences,
        plans: Sequence[Plan],
        rows: Sequence[TaskRow],
        runs: Mapping[int, SchedulerRun],
        release: frozenset[str] = frozenset(),
    ) -> Solved:
        """One solve; the named plan's tasks in `release` lose the blocks kept outside."""
        plan_ids = sorted({p.id for p in plans} | {ctx.plan.id})
        window, keep = ctx.window, not ctx.places_new
        inputs = cm.gather(
            ctx.plan, plans, rows, runs, window, ctx.calendar_window[0], keep, release
        )
        ctx.warnings.extend(finished_tasks.task_warnings(inputs))
        ctx.warnings.extend(read.warnings)
        prefs = read.out[0]
        # A sprint caps its own week; "max 40h/week" every week (the smaller holds).
        by_week, target = await sprint_limits(self.repo, ctx)
        closed = {
            cm.core_id(p, k): (
                pb.ClosedTask(status, title, k)
                if p == ctx.plan.id
                else pb.ClosedTask(status, None, f"{p}/{k}")  # another plan's: no title
            )
            for (p, k), (status, title) in (await self.tasks.closed_of(plan_ids)).items()
        }
        closed.update(finished_tasks.finished_closed(inputs))
        problem = pb.build_problem(
            inputs.inputs,
            settings=self.settings,
            prefs=prefs,
            timezone=ctx.tz.key,
            now=ctx.now,
            horizon=ctx.window,
            busy=cm.busy_events(ctx.events, set(plan_ids)),
            weekly_capacity_hours=prefs.weekly_max_hours,
            capacity_by_week=by_week,
            billable_share_target=target,
            previous=inputs.previous,
            held=inputs.held,
            warnings=ctx.warnings,
            replan_scope=ctx.replan_scope,
            new_tasks=new_work(ctx, inputs) if ctx.places_new else (),
            closed=closed,
        )
        # CP-SAT is CPU-bound for up to its time limit: keep the event loop free meanwhile.
        from almanac.scheduler.core.cpsat import solve  # OR-Tools loads on the first solve

        schedule = await asyncio.to_thread(solve, problem)
        violations = [f"{v.kind}: {v.message}" for v in validate(problem, schedule)]
        # A pin the core kept with its dependency not before it is said, never silent.
        told = pin_order.explain(problem, schedule, inputs, ctx.tz)
        ctx.warnings.extend(told.warnings)
        due = {t.id: t.deadline for t in problem.tasks if t.deadline is not None}
        late = {b.task_id for b in told.schedule.blocks if b.end > due.get(b.task_id, b.end)}
        if late and ctx.replan_scope == "repair" and inputs.previous:
            # A repair moves what the change broke; the whole calendar re-solved may meet a
            # deadline it misses (it did, and the answer said nothing).
            ctx.warnings.append(
                f"{len(late)} task(s) end after their deadline; a full replan (scope "
                f'"full", `almanac replan {ctx.plan.id} --full`) re-optimises the whole '
                "calendar and may meet them"
            )
        return Solved(
            problem,
            told.schedule,
            {i.key: i.title for i in inputs.inputs},
            {cid: r.id for cid, r in inputs.rows.items()},
            violations,
            self.preference_facts.out(read),
            inputs,
            staleness.fingerprint(ctx.events, inputs, ctx.window),
            told.notes,
            prefs if read.from_memory else None,
        )

    # -- used by the block service -----------------------------------------------------------

    def block_out(self, plan_id: int, block: Block, title: str, tz: ZoneInfo) -> BlockOut:
        return answer.block_out(plan_id, block, title, tz)
