"""The scheduler service: read busy time and preferences, solve, validate, write. Never commits.

Order of a write (`dry_run=false`): everything is read and solved first; then the database
changes (tasks, plan status, the run) are flushed; the calendar is written last. If the
calendar fails, the error propagates and the request's transaction rolls back, so Postgres
never claims blocks the calendar does not have. A preview needs busy time too, so an
unreachable calendar is a 503 for previews as well (a preview that ignores meetings would
mislead).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from almanac.calendars.base import ApplyResult, CalendarEvent, CalendarProvider, EventSpec, overlaps
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, Conflict, NotFound, ValidationFailed
from almanac.memory.client import memory_client
from almanac.memory.schemas import FactsQuery
from almanac.models import Plan
from almanac.planner.status import require_transition
from almanac.scheduler import problem as pb
from almanac.scheduler.core import Block, Problem, Schedule, solve, validate
from almanac.scheduler.preferences import resolve_preferences
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import (
    BlockOut,
    CalendarWriteOut,
    MoveOut,
    PreferencesOut,
    ReplanIn,
    ReplanOut,
    ScheduleIn,
    ScheduleOut,
    SolverOut,
    UnplacedOut,
)
from almanac.state import AppState

SHORT_RUNWAY_WEEKS = 12  # below this, the sprint's billable target becomes a solver goal


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


@dataclass
class Solved:
    problem: Problem
    schedule: Schedule
    titles: dict[str, str]
    task_ids: dict[str, int]
    violations: list[str]
    prefs: PreferencesOut


def plan_prefix(plan_id: int) -> str:
    return f"plan{plan_id}-"


class SchedulerService:
    """Schedule and replan plans into the configured calendar."""

    def __init__(self, uow: UnitOfWork, calendar: CalendarProvider, state: AppState) -> None:
        self.uow = uow
        self.repo = SchedulerRepository(uow.session)
        self.calendar = calendar
        self.state = state
        self.settings = state.settings

    # -- public ------------------------------------------------------------------------------

    async def schedule(self, body: ScheduleIn) -> ScheduleOut:
        """Preview (dry run) or write a plan's schedule; stores a scheduler_run either way."""
        plan = await self._plan(body.plan_id, for_update=not body.dry_run)
        require_transition(plan.status, "scheduled")
        tz = self.tz()
        now = datetime.now(UTC)
        start = body.start_date or now.astimezone(tz).date()
        ctx = await self._context(plan, tz, now, start, body.horizon_days)
        last = await self.repo.last_applied_run(plan.id)
        previous = pb.blocks_from_json(last.schedule_blocks) if last else []
        solved = await self._solve(ctx, previous)
        out = await self._finish(ctx, solved, body.dry_run, {})
        return out

    async def replan(self, body: ReplanIn) -> ReplanOut:
        """Re-solve against the last written schedule and report what moved and why."""
        plan = await self._plan(body.plan_id, for_update=not body.dry_run)
        if plan.status != "active":  # work under way may be replanned; it stays active
            require_transition(plan.status, "scheduled")
        last = await self.repo.last_applied_run(plan.id)
        if last is None:
            raise Conflict(f"plan {plan.id} has no written schedule to replan; use /schedule")
        tz = self.tz()
        now = datetime.now(UTC)
        today = now.astimezone(tz).date()
        meta = last.metadata_ or {}
        prev_start = date.fromisoformat(meta.get("start_date", today.isoformat()))
        prev_end = prev_start + timedelta(days=int(meta.get("horizon_days", 14)))
        start = max(today, prev_start)
        days = (prev_end - start).days if prev_end > start else int(meta.get("horizon_days", 14))
        ctx = await self._context(plan, tz, now, start, min(max(days, 1), 60))
        previous = pb.blocks_from_json(last.schedule_blocks)
        solved = await self._solve(ctx, previous)
        moved = pb.moves(previous, solved.schedule.blocks)
        moves = [self._move_out(m, solved, ctx) for m in moved]
        share = round(len(moved) / len(previous), 4) if previous else 0.0
        extra = {"reason": body.reason, "previous_run_id": last.id, "moved_share": share}
        base = await self._finish(ctx, solved, body.dry_run, extra)
        return ReplanOut(
            **base.model_dump(),
            reason=body.reason,
            previous_run_id=last.id,
            moves=moves,
            moved_share=share,
        )

    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.settings.timezone)
        except (KeyError, ValueError) as exc:
            raise ValidationFailed(
                f"unknown IANA time zone {self.settings.timezone!r}", field="timezone"
            ) from exc

    # -- steps -------------------------------------------------------------------------------

    async def _plan(self, plan_id: int, *, for_update: bool) -> Plan:
        plan = await self.repo.plan(plan_id, for_update=for_update)
        if plan is None:
            raise NotFound(f"plan {plan_id} not found")
        return plan

    async def _context(
        self, plan: Plan, tz: ZoneInfo, now: datetime, start: date, days: int
    ) -> Context:
        begin = datetime.combine(start, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(start + timedelta(days=days), datetime.min.time(), tzinfo=tz)
        if end <= now:
            raise ValidationFailed("the horizon lies entirely in the past", field="start_date")
        events = await self.calendar.events(begin, end)
        return Context(plan, tz, now, start, days, (begin, end), events)

    async def _preference_texts(self, warnings: list[str]) -> list[str]:
        texts: list[tuple[datetime, str]] = []
        try:
            client = memory_client(self.state)
            for kind in ("preference", "constraint"):
                facts = await client.facts(FactsQuery(fact_type=kind, limit=200))
                texts.extend((f.valid_from, f.content) for f in facts)
        except AlmanacError as exc:
            # Preferences refine the defaults; without memory the defaults still schedule.
            warnings.append(f"memory unavailable, preferences not read: {exc.message}")
            return []
        return [t for _, t in sorted(texts, key=lambda x: x[0])]

    async def _solve(self, ctx: Context, previous: list[Block]) -> Solved:
        rows = await self.repo.open_tasks(ctx.plan.id)
        if not rows:
            ctx.warnings.append("the plan has no open tasks")
        inputs = [
            pb.TaskInput(
                key=r.plan_task_key or f"task{r.id}",
                title=r.title,
                estimate_hours=r.estimate_hours,
                priority=r.priority,
                billable=r.billable,
                depends_on=tuple(str(d) for d in r.depends_on or ()),
                earliest_start=r.earliest_start,
                deadline=r.deadline,
                metadata=r.metadata_ or {},
            )
            for r in rows
        ]
        texts = await self._preference_texts(ctx.warnings)
        prompt = await self.repo.active_prompt("schedule_optimizer") if self.state.llm else None
        prefs, applied, source = await resolve_preferences(
            texts, self.state.llm, prompt, ctx.warnings
        )
        capacity, target = await self._sprint_limits(ctx)
        own = plan_prefix(ctx.plan.id)
        busy = [
            (e.start, e.end)
            for e in ctx.events
            if e.busy and not (e.almanac_id or "").startswith(own)
        ]
        problem = pb.build_problem(
            inputs,
            settings=self.settings.scheduler,
            prefs=prefs,
            timezone=ctx.tz.key,
            now=ctx.now,
            horizon=ctx.window,
            busy=busy,
            weekly_capacity_hours=capacity,
            billable_share_target=target,
            previous=previous,
            warnings=ctx.warnings,
        )
        # CP-SAT is CPU-bound for up to its time limit: keep the event loop free meanwhile.
        schedule = await asyncio.to_thread(solve, problem)
        violations = [f"{v.kind}: {v.message}" for v in validate(problem, schedule)]
        return Solved(
            problem,
            schedule,
            {i.key: i.title for i in inputs},
            {(r.plan_task_key or f"task{r.id}"): r.id for r in rows},
            violations,
            PreferencesOut(applied=applied, llm_used=source == "llm", source=source),
        )

    async def _sprint_limits(self, ctx: Context) -> tuple[float | None, float | None]:
        monday = ctx.start_date - timedelta(days=ctx.start_date.weekday())
        last = ctx.start_date + timedelta(days=ctx.days - 1)
        sprints = await self.repo.sprints_between(monday, last)
        if not sprints:
            return None, None
        if len(sprints) > 1:
            # The core has one weekly capacity; the tightest sprint is the safe choice.
            ctx.warnings.append("the horizon spans several sprints; using the smallest capacity")
        capacity = min(s.capacity_hrs for s in sprints)
        short = [
            s for s in sprints if s.runway_weeks is not None and s.runway_weeks < SHORT_RUNWAY_WEEKS
        ]
        target = max((s.billable_target_pct for s in short), default=None)
        return capacity, (target / 100 if target is not None else None)

    # -- output and writes -------------------------------------------------------------------

    def block_out(
        self, plan_id: int, block: Block, titles: dict[str, str], tz: ZoneInfo
    ) -> BlockOut:
        return BlockOut(
            almanac_id=pb.almanac_id(plan_id, block.task_id, block.chunk),
            task_key=block.task_id,
            title=titles.get(block.task_id, block.task_id),
            chunk=block.chunk,
            start=block.start.astimezone(tz),
            end=block.end.astimezone(tz),
            reason=block.reason,
            fixed=block.fixed,
        )

    def specs(
        self,
        plan: Plan,
        blocks: list[BlockOut],
        ctx_events: list[CalendarEvent],
        window: tuple[datetime, datetime],
    ) -> list[EventSpec]:
        """This plan's blocks in the window, plus every other Almanac event there unchanged.

        `apply` deletes Almanac events in the window that are not desired; carrying the other
        plans' blocks over keeps them.
        """
        out = [
            EventSpec(
                almanac_id=b.almanac_id,
                title=b.title,
                start=b.start,
                end=b.end,
                description=f"Almanac plan {plan.id} ({plan.plan_title}), task {b.task_key}",
            )
            for b in blocks
            if overlaps(b.start, b.end, window)
        ]
        own = plan_prefix(plan.id)
        seen = {s.almanac_id for s in out}
        for e in ctx_events:
            aid = e.almanac_id
            if aid and not aid.startswith(own) and aid not in seen and e.end > e.start:
                seen.add(aid)
                out.append(EventSpec(aid, e.title, e.start, e.end, e.description))
        return out

    async def write_calendar(
        self,
        plan: Plan,
        blocks: list[BlockOut],
        events: list[CalendarEvent],
        window: tuple[datetime, datetime],
    ) -> ApplyResult:
        return await self.calendar.apply(self.specs(plan, blocks, events, window), *window)

    async def _finish(
        self, ctx: Context, solved: Solved, dry_run: bool, extra: dict[str, Any]
    ) -> ScheduleOut:
        plan, s = ctx.plan, solved.schedule
        blocks = [self.block_out(plan.id, b, solved.titles, ctx.tz) for b in s.blocks]
        unplaced = [
            UnplacedOut(
                task_key=u.task_id,
                title=solved.titles.get(u.task_id, u.task_id),
                cause=str(u.cause),
                detail=u.detail,
            )
            for u in s.unplaced
        ]
        solver = SolverOut(
            status=str(s.status),
            objective=s.objective_value,
            best_bound=s.best_bound,
            gap=s.relative_gap,
            wall_time_seconds=round(s.wall_time_seconds, 3),
            solver_status=s.solver_status,
        )
        warnings = list(ctx.warnings)
        if solved.violations:
            warnings.append("the schedule failed validation and was not written")
        elif dry_run:
            warnings.append("preview only: nothing was written to the calendar")
        write = not dry_run and not solved.violations
        meta: dict[str, Any] = {
            "dry_run": dry_run,
            "start_date": ctx.start_date.isoformat(),
            "horizon_days": ctx.days,
            "window_start": ctx.window[0].isoformat(),
            "window_end": ctx.window[1].isoformat(),
            "timezone": ctx.tz.key,
            "solver": solver.model_dump(),
            "calendar_provider": self.calendar.name,
            "unplaced": [u.model_dump() for u in unplaced],
            "violations": solved.violations,
            "warnings": warnings,
            "preferences": solved.prefs.model_dump(),
            **extra,
        }
        status = "scheduled" if write else ("invalid" if solved.violations else "preview")
        calendar_out: CalendarWriteOut | None = None
        if write:
            starts: dict[int, datetime | None] = {tid: None for tid in solved.task_ids.values()}
            for b in s.blocks:
                tid = solved.task_ids.get(b.task_id)
                if tid is not None and (starts[tid] is None or b.start < starts[tid]):  # type: ignore[operator]
                    starts[tid] = b.start
            await self.repo.set_scheduled_start(starts)
            if plan.status == "approved":  # checked by require_transition above
                await self.repo.set_plan_status(plan, "scheduled")
        run = await self.repo.add_run(
            plan.id, status, [pb.block_to_json(b) for b in s.blocks], meta
        )
        if write:
            # Last: a calendar failure raises here and the request's transaction rolls back.
            result = await self.write_calendar(plan, blocks, ctx.events, ctx.window)
            calendar_out = CalendarWriteOut(provider=self.calendar.name, **vars(result))
            run.metadata_ = {**meta, "calendar_event_ids": calendar_out.model_dump()}
            await self.uow.session.flush()
        return ScheduleOut(
            run_id=run.id,
            plan_id=plan.id,
            plan_status=plan.status,
            dry_run=dry_run,
            applied=write,
            timezone=ctx.tz.key,
            window_start=ctx.window[0],
            window_end=ctx.window[1],
            blocks=blocks,
            unplaced=unplaced,
            solver=solver,
            preferences=solved.prefs,
            violations=solved.violations,
            warnings=warnings,
            calendar=calendar_out,
        )

    def _move_out(self, move: pb.Move, solved: Solved, ctx: Context) -> MoveOut:
        old, new, tz = move.old, move.new, ctx.tz
        return MoveOut(
            task_key=move.task_key,
            title=solved.titles.get(move.task_key, move.task_key),
            from_start=old.start.astimezone(tz),
            from_end=old.end.astimezone(tz),
            to_start=new.start.astimezone(tz) if new else None,
            to_end=new.end.astimezone(tz) if new else None,
            why=pb.why_moved(move, solved.problem, solved.schedule),
        )
