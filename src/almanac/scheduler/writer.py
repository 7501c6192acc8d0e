"""Turning a solved calendar into the response, the runs and the calendar write.

A preview stores everything it showed (the response, every written plan's blocks and a
fingerprint of what it depended on); applying it by `run_id` writes exactly those blocks, or
answers 409 listing what changed since. A write that would change nothing writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from almanac.calendars.base import (
    CalendarEvent,
    EventSpec,
    overlaps,
)
from almanac.models import Plan, SchedulerRun
from almanac.scheduler import answer as ans
from almanac.scheduler import calendar_model as cm
from almanac.scheduler import moves as mv
from almanac.scheduler import problem as pb
from almanac.scheduler.core.floors import missed_warning
from almanac.scheduler.pending import block_event, others, write_or_queue
from almanac.scheduler.preference_facts import preferences_kept
from almanac.scheduler.preview_apply import apply_preview
from almanac.scheduler.schemas import (
    FloorOut,
    ReplanIn,
    ScheduleIn,
    ScheduleOut,
    SolverOut,
    UnplacedOut,
)

if TYPE_CHECKING:
    from almanac.scheduler.service import Context, SchedulerService, Solved


class Writer:
    """Builds responses and writes runs and the calendar for the scheduler service."""

    def __init__(self, service: SchedulerService) -> None:
        self.s = service
        self.repo = service.repo
        self.calendar = service.calendar

    async def finish(
        self, ctx: Context, solved: Solved, dry_run: bool, extra: dict[str, Any]
    ) -> ScheduleOut:
        """The response; with `dry_run=false` and a valid schedule, the runs and calendar too."""
        plan, s, inputs = ctx.plan, solved.schedule, solved.inputs
        by_plan = ans.by_plan(solved)
        # Another plan's task is named by its key (as in the warnings): the whole calendar is
        # solved at once, and another client's titles must not reach this plan's answer.
        shown = {k: t for k, t in solved.titles.items() if cm.split_core_id(k)[0] == plan.id}
        titles = {cm.split_core_id(k): t for k, t in shown.items()}
        hide = cm.title_hider(solved.titles, plan.id)
        blocks = [
            ans.block_out(plan.id, b, titles.get((plan.id, b.task_id), b.task_id), ctx.tz)
            for b in by_plan.get(plan.id, [])
        ]
        unplaced = []
        for u in s.unplaced:
            pid, key = cm.split_core_id(u.task_id)
            unplaced.append(
                UnplacedOut(
                    plan_id=pid,
                    task_key=key,
                    title=shown.get(u.task_id, key),
                    cause=str(u.cause),
                    detail=hide(u.detail, pid),
                )
            )
        unplaced.sort(key=lambda u: (u.plan_id != plan.id, u.plan_id, u.task_key))
        found = mv.moves([*inputs.previous, *inputs.released], s.blocks)  # given up: moved
        moves = ans.moves_out(solved, shown, ctx.tz, found)
        movable = [b for b in inputs.previous if not b.fixed]
        share = round(len(moves) / len(movable), 4) if movable else 0.0
        solver = SolverOut(
            status=str(s.status),
            objective=s.objective_value,
            best_bound=s.best_bound,
            gap=s.relative_gap,
            wall_time_seconds=round(s.wall_time_seconds, 3),
            solver_status=s.solver_status,
            source=s.source,
            stopped=s.stopped,
            floors=[FloorOut(**vars(f)) for f in s.floors],
            scope=s.scope,
        )
        warnings = list(ctx.warnings)
        warnings += [missed_warning(f) for f in s.floors if not f.reached]
        if (rounded := ans.slot_rounding(solved, plan.id)) is not None:
            warnings.append(rounded)
        reserved = sorted(p for p in by_plan if not inputs.written(p))
        if reserved:
            warnings.append(
                "time is reserved for approved plans not yet scheduled: "
                + ", ".join(str(p) for p in reserved)
            )
        written = {p: bl for p, bl in by_plan.items() if inputs.written(p)}
        for pid in inputs.plans:
            if inputs.written(pid):
                written.setdefault(pid, [])
        placed = ans.placed_out(plan.id, written, inputs, found, titles, ctx.tz)
        # The solver's reasons name tasks by title, another plan's included ('after …').
        for b in [*blocks, *placed]:
            b.reason = hide(b.reason, b.plan_id)
        for m in moves:
            m.why = hide(m.why, m.plan_id)
        if solved.violations:
            warnings.append("the schedule failed validation and was not written")
        elif dry_run:
            warnings.append("preview only: nothing was written to the calendar")
        out = ScheduleOut(
            run_id=0,
            plan_id=plan.id,
            plan_status=plan.status,
            dry_run=dry_run,
            applied=False,
            timezone=ctx.tz.key,
            window_start=ctx.window[0],
            window_end=ctx.window[1],
            blocks=blocks,
            unplaced=unplaced,
            solver=solver,
            preferences=solved.prefs,
            violations=solved.violations,
            warnings=warnings,
            moves=moves,
            moved_share=share,
            moved_of=len(movable),
            placed=placed,
        )
        meta: dict[str, Any] = {
            "dry_run": dry_run,
            "start_date": ctx.start_date.isoformat(),
            "horizon_days": ctx.days,
            "window_start": ctx.window[0].isoformat(),
            "window_end": ctx.window[1].isoformat(),
            "timezone": ctx.tz.key,
            "scope": ctx.replan_scope,
            "solver": solver.model_dump(),
            "calendar_provider": self.calendar.name,
            "unplaced": [u.model_dump() for u in unplaced],
            "violations": solved.violations,
            "warnings": warnings,
            "preferences": solved.prefs.model_dump(),
            **preferences_kept(solved.read_from_memory),
            "moved_share": share,
            "fingerprint": solved.fingerprint,
            # Stored as the answer shows them: another plan's reasons quote its titles.
            "plans": {str(p): ans.stored(bl, hide) for p, bl in written.items()},
            # Past blocks whose events stay: their numbers are not given to new blocks.
            "held": {
                str(p): ans.stored_rows(cm.held_meta(inputs, p, bl), hide)
                for p, bl in written.items()
            },
            **extra,
        }
        if solved.violations or dry_run:
            status = "invalid" if solved.violations else "preview"
            run = await self.repo.add_run(
                plan.id, status, ans.stored(by_plan.get(plan.id, []), hide), meta
            )
            out.run_id = run.id
            run.metadata_ = {**meta, "response": out.model_dump(mode="json")}
            await self.repo.session.flush()
            return out
        return await self.write(ctx, written, solved.task_ids, meta, out, solved.titles)

    async def write(
        self,
        ctx: Context,
        written: ans.PlanBlocks,
        task_ids: dict[str, int],
        meta: dict[str, Any],
        out: ScheduleOut,
        titles: dict[str, str],
    ) -> ScheduleOut:
        """Write runs for every plan whose blocks change, then the calendar (last)."""
        plan = ctx.plan
        # An applied preview's metadata said dry_run; every run recorded here is written.
        meta = {**meta, "dry_run": False}
        runs = await self.repo.last_applied_runs(list(written))
        previous = {p: pb.blocks_from_json(r.schedule_blocks) for p, r in runs.items()}
        changed = [
            p
            for p, bl in written.items()
            if p not in previous or ans.keyset(bl) != ans.keyset(previous[p])
        ]
        window = ctx.calendar_window
        if not changed and plan.status != "approved":
            # Nothing to record; the calendar diff still repairs events lost there. A retry
            # of a write whose calendar step is pending gets the same answer, queued again.
            specs = await self.specs(written, ctx.events, window, titles)
            latest = {p: r.id for p, r in runs.items()}
            out.calendar = await write_or_queue(
                self.calendar, self.repo.session, specs, window, latest
            )
            if out.calendar.pending:
                out.warnings.append(out.calendar.detail or "the calendar write is pending")
            out.applied, out.dry_run = True, False
            out.run_id = runs[plan.id].id if plan.id in runs else 0
            out.warnings.append("nothing changed: no new run was recorded")
            return out
        starts: dict[int, datetime | None] = dict.fromkeys(task_ids.values())
        for pid, blocks in written.items():
            for key, first in cm.first_starts(blocks, [b.task_id for b in blocks]).items():
                if (tid := task_ids.get(cm.core_id(pid, key))) is not None:
                    starts[tid] = first
        await self.s.tasks.set_scheduled_start(starts)
        if plan.status == "approved":
            await self.s.plans.set_status(plan, "scheduled")
        out.plan_status = plan.status
        hide = cm.title_hider(titles, plan.id)
        run = await self.repo.add_run(
            plan.id, "scheduled", ans.stored(written.get(plan.id, []), hide), meta
        )
        recorded = {plan.id: run.id}
        for pid in changed:
            if pid != plan.id:
                # Its own run names its own tasks: a preview stored them hidden (by key).
                show = cm.title_shower(titles, pid)
                held = (meta.get("held") or {}).get(str(pid), [])
                other = await self.repo.add_run(
                    pid,
                    "scheduled",
                    ans.stored(written[pid], show),
                    {
                        # Its own window, not this solve's: a replan of it (and the write
                        # window of its next schedule) starts from there.
                        **_window_meta(_own_window(runs.get(pid), meta)),
                        "held": {str(pid): ans.stored_rows(held, show)},
                        "moved_by_plan": plan.id,
                        "moved_by_run": run.id,
                    },
                )
                recorded[pid] = other.id
        specs = await self.specs(written, ctx.events, window, titles)
        out.calendar = await write_or_queue(
            self.calendar, self.repo.session, specs, window, recorded
        )
        if out.calendar.pending:
            out.warnings.append(out.calendar.detail or "the calendar write is pending")
        out.applied, out.dry_run, out.run_id = True, False, run.id
        run.metadata_ = {
            **meta,
            "calendar_event_ids": out.calendar.model_dump(),
            "response": out.model_dump(mode="json"),
        }
        await self.repo.session.flush()
        return out

    async def specs(
        self,
        written: ans.PlanBlocks,
        events: list[CalendarEvent],
        window: tuple[datetime, datetime],
        titles: dict[str, str],
    ) -> list[EventSpec]:
        """Every written plan's blocks in the window, other Almanac events there unchanged.

        `titles` is keyed by core task id (`p<plan>/<key>`); a task missing there is read
        once. Blocks are written in the settings' zone (stored runs keep UTC), so an event
        that did not move compares unchanged and keeps its SEQUENCE.
        """
        specs: list[EventSpec] = []
        seen: set[str] = set()
        known, tz = dict(titles), self.s.tz()
        for pid, blocks in written.items():
            for b in blocks:
                if not overlaps(b.start, b.end, window):
                    continue
                cid = cm.core_id(pid, b.task_id)
                if cid not in known:
                    known[cid] = await self._title(pid, b.task_id)
                specs.append(block_event(pid, b, known[cid], tz))
                seen.add(specs[-1].almanac_id)
        return specs + others(events, set(written), seen)

    async def _title(self, plan_id: int, key: str) -> str:
        task = await self.s.tasks.by_key(plan_id, key)
        return task.title if task else key

    async def apply_preview(
        self,
        plan: Plan,
        run_id: int,
        tz: ZoneInfo,
        now: datetime,
        given: dict[str, Any] | None = None,
        replan: bool = False,
    ) -> ScheduleOut:
        """Write exactly what preview `run_id` showed, or 409 listing what changed since.

        `given`: the window and scope the request states; one that differs from the
        preview's is a 422 naming it (the preview's window would be written otherwise).
        `replan`: the request is /replan's, which applies a replan's preview only (and
        /schedule a schedule's), so its answer's reason and previous run are the preview's."""
        return await apply_preview(self, plan, run_id, tz, now, given or {}, replan)


def _window_meta(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("start_date", "horizon_days", "window_start", "window_end", "timezone", "dry_run")
    return {k: meta[k] for k in keys if k in meta}


def _own_window(last: SchedulerRun | None, meta: dict[str, Any]) -> dict[str, Any]:
    """The window a plan moved by another plan's solve keeps: its last run's, else the
    solve's (a plan written for the first time by another plan's solve)."""
    own = dict((last.metadata_ or {}) if last is not None else {})
    return {**own, "dry_run": False} if "start_date" in own and "window_start" in own else meta


def stated_window(body: ScheduleIn | ReplanIn) -> dict[str, Any]:
    """The window and scope a request applying a preview states (not defaulted)."""
    names = ("start_date", "horizon_days", "scope")
    return {
        k: v for k in names if k in body.model_fields_set and (v := getattr(body, k)) is not None
    }
