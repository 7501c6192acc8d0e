"""The calendar as the scheduler shows it, and moving one block by hand (which pins it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from almanac.calendars.base import CalendarEvent, almanac_id_from_uid, overlaps
from almanac.calendars.repository import CalendarEntryRepository
from almanac.errors import Conflict, NotFound, ValidationFailed
from almanac.models import SchedulerRun
from almanac.models import Task as TaskRow
from almanac.models.status import WRITTEN_PLAN_STATUSES
from almanac.scheduler import calendar_model as cm
from almanac.scheduler import problem as pb
from almanac.scheduler.conflicts import broken_rules, mark_conflicts, move_conflicts
from almanac.scheduler.core import Block
from almanac.scheduler.core.explain import renumber
from almanac.scheduler.day_limits import day_limits, user_day_limits
from almanac.scheduler.pending import write_or_queue
from almanac.scheduler.pin_order import order_conflicts
from almanac.scheduler.schemas import (
    CalendarEventOut,
    CalendarOut,
    DayLimitOut,
    MoveBlockIn,
    MoveBlockOut,
    SchedulingPreferences,
)
from almanac.scheduler.service import SchedulerService
from almanac.scheduler.writer import Writer

MAX_VIEW_DAYS = 92


def _missing(message: str) -> NoReturn:
    """404 naming the path's `event_id` (its message names the block, not the event)."""
    raise NotFound(message, errors=[{"field": "event_id", "message": message}])


class BlockService:
    """Read the calendar window; move and pin Almanac's blocks."""

    def __init__(self, scheduler: SchedulerService) -> None:
        self.s = scheduler
        self.repo = scheduler.repo
        self.tasks = scheduler.tasks
        self.calendar = scheduler.calendar

    async def view(self, start_date: date | None, end_date: date | None) -> CalendarOut:
        """Almanac's blocks and the user's busy events from start_date to end_date inclusive."""
        tz = self.s.tz()
        first = start_date or datetime.now(tz).date()
        last = end_date or first + timedelta(days=6)
        if last < first:
            # Without a start_date the caller never named the date the end is compared with.
            said = (
                f" {first.isoformat()}"
                if start_date
                else f", which defaults to today ({first.isoformat()})"
            )
            raise ValidationFailed(
                f"end_date {last.isoformat()} is before start_date{said}", field="end_date"
            )
        if (last - first).days >= MAX_VIEW_DAYS:
            raise ValidationFailed(f"at most {MAX_VIEW_DAYS} days at once", field="end_date")
        begin = datetime.combine(first, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        events = await self.calendar.events(begin, end)
        marks = mark_conflicts(events)
        stored = await self._stored_warnings(events)
        blocks = [pb.parse_almanac_id(e.almanac_id) if e.almanac_id else None for e in events]
        plans = sorted({b[0] for b in blocks if b is not None})
        clients = await self.s.plans.clients_of(plans)
        tasks = await self.tasks.open_of(plans)
        # The user's own (None) with the blocks' clients': one read for the marks and limits.
        prefs = await self.s.preference_facts.solved_by_rules({*clients.values(), None})
        for i, lines in self._rules_broken(events, blocks, clients, tasks, prefs).items():
            marks.setdefault(i, []).extend(lines)
        for i, lines in (await self._order_broken(events, blocks, tasks)).items():
            marks.setdefault(i, []).extend(lines)
        out = [
            CalendarEventOut(
                id=e.almanac_id or e.uid,
                uid=e.uid,
                title=e.title,
                start=e.start.astimezone(tz),
                end=e.end.astimezone(tz),
                almanac=e.almanac_id is not None,
                busy=e.busy,
                all_day=e.all_day,
                client_id=clients.get(block[0]) if block is not None else None,
                conflicts=marks.get(i, []),
                warnings=stored.get(e.almanac_id or "", []),
            )
            for i, (e, block) in enumerate(zip(events, blocks, strict=True))
        ]
        # None: a solve has the LLM read them; the limits are the rules' reading all the same.
        own = prefs.get(None)
        limits = (
            day_limits(self.s.settings, own)
            if own is not None
            else await user_day_limits(self.s.memory, self.s.prompts, self.s.settings, self.repo)
        )
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        per_day = [(d, limits.on(d)) for d in days]
        return CalendarOut(
            start=begin,
            end=end,
            provider=self.calendar.name,
            events=out,
            day_limits=[DayLimitOut(day=d, hours=lim[0], limit=lim[1]) for d, lim in per_day],
        )

    def _rules_broken(
        self,
        events: list[CalendarEvent],
        blocks: list[tuple[int, str, int] | None],
        clients: dict[int, int | None],
        tasks: Sequence[TaskRow],
        prefs: dict[int | None, SchedulingPreferences | None],
    ) -> dict[int, list[str]]:
        """Per block (its index in `events`), the working hours or deadline it breaks (a
        move forced past its conflicts): checked as a move is, by the rules' reading of the
        client's preferences (`prefs`), but not the hours of a client whose preferences a
        solve has the LLM read. `tasks`: the open tasks of the blocks' plans."""
        deadlines = {(t.plan_id, t.plan_task_key): t.deadline for t in tasks}
        tz = self.s.tz()
        out: dict[int, list[str]] = {}
        for i, (e, block) in enumerate(zip(events, blocks, strict=True)):
            if block is None:
                continue
            plan_id, key, _ = block
            deadline = deadlines.get((plan_id, key))
            rules = prefs[clients.get(plan_id)]
            if found := broken_rules(self.s.settings, tz, e, rules, deadline):
                out[i] = found
        return out

    async def _order_broken(
        self,
        events: list[CalendarEvent],
        blocks: list[tuple[int, str, int] | None],
        tasks: Sequence[TaskRow],
    ) -> dict[int, list[str]]:
        """Per block (its index in `events`), each open dependency of its task not placed
        before it in its plan's schedule: a pin (the user's, or kept outside a window) the
        solve kept though no time was left before it for the dependency."""
        runs = await self.repo.last_applied_runs(sorted({b[0] for b in blocks if b}))
        rows = {(t.plan_id, cm.row_key(t)): t for t in tasks if not cm.all_recorded(t)}
        tz, out = self.s.tz(), {}
        for i, (e, block) in enumerate(zip(events, blocks, strict=True)):
            row = rows.get(block[:2]) if block is not None else None
            run = runs.get(block[0]) if block is not None else None
            if block is None or row is None or run is None or not row.depends_on:
                continue
            plan_id, key, _ = block
            theirs = [*pb.blocks_from_json(run.schedule_blocks), *cm.held_blocks(run)]
            deps = {
                str(d): rows[(plan_id, str(d))].title
                for d in row.depends_on
                if (plan_id, str(d)) in rows and str(d) != key
            }
            if found := order_conflicts(e.start, deps, theirs, tz):
                out[i] = found
        return out

    async def _stored_warnings(self, events: list[CalendarEvent]) -> dict[str, list[str]]:
        """Per Almanac block id, the warnings the sync stored on it in its plan's run."""
        ids = {e.almanac_id: pb.parse_almanac_id(e.almanac_id) for e in events if e.almanac_id}
        plans = sorted({p[0] for p in ids.values() if p is not None})
        runs = await self.repo.last_applied_runs(plans)
        out: dict[str, list[str]] = {}
        for aid, parsed in ids.items():
            run = runs.get(parsed[0]) if parsed else None
            if parsed is None or run is None:
                continue
            for row in run.schedule_blocks:
                if row.get("task_key") == parsed[1] and row.get("chunk") == parsed[2]:
                    out[aid] = [str(w) for w in row.get("warnings") or []]
        return out

    async def move(self, event_id: str, body: MoveBlockIn) -> MoveBlockOut:
        """Move an Almanac block by hand: it becomes pinned and the calendar is updated.

        A move onto a meeting or another block, outside working hours (as preferences
        refine them), over the daily maximum or its week's limit (the sprint's capacity or
        the preferences' weekly maximum, the smaller; for a client whose preferences a solve
        has the LLM read, hours and maxima are not checked, as in the view), before a
        dependency ends (or after a dependent starts) or past the deadline is a 409 listing
        every conflict, unless `force`: then it is pinned anyway and the list comes back as
        warnings.
        Conflicts are checked against the calendar as read now, so a calendar that cannot be
        read is still a 503; a remote calendar that cannot be written gets the move later
        (`calendar.pending`), and the same move sent again records nothing new.
        """
        aid = almanac_id_from_uid(event_id) or event_id
        if event_id.isdecimal() and len(event_id) < 19:
            # The id `GET /calendar/events` lists the block by (a 404 said it was none).
            entry = await CalendarEntryRepository(self.repo.session).get(int(event_id))
            aid = entry.almanac_id if entry is not None and entry.almanac_id else aid
        parsed = pb.parse_almanac_id(aid)
        if parsed is None:
            _missing(f"{event_id!r} is not an Almanac block; only Almanac's can be moved")
        plan_id, key, chunk = parsed
        await self.hold()
        plan = await self.s.plans.get(plan_id, for_update=True)
        task = await self.tasks.by_key(plan_id, key, for_update=True) if plan else None
        run = await self.repo.last_applied_run(plan_id) if plan else None
        if plan is None or task is None or run is None:
            _missing(f"no Almanac block {aid!r}")
        blocks = pb.blocks_from_json(run.schedule_blocks)
        old = next((b for b in blocks if b.task_id == key and b.chunk == chunk), None)
        if old is None:
            _missing(f"no Almanac block {aid!r} in the current schedule")
        if plan.status not in WRITTEN_PLAN_STATUSES:
            raise Conflict(
                f"plan {plan_id} is {plan.status}; its blocks cannot be moved", field="plan_id"
            )
        tz = self.s.tz()
        slot = self.s.settings.slot_minutes
        start, end = body.start.astimezone(tz), body.end.astimezone(tz)
        for name, value in (("start", start), ("end", end)):
            if value.minute % slot or value.second or value.microsecond:
                raise ValidationFailed(f"{name} must fall on a {slot}-minute boundary", field=name)
        pins = self._pins(task.metadata_ or {}, old, start, end, task.estimate_hours, slot)
        meta = run.metadata_ or {}
        w0 = min(datetime.fromisoformat(meta["window_start"]), start)
        w1 = max(datetime.fromisoformat(meta["window_end"]), end)
        window = (w0, w1)
        # The daily maximum counts the whole local day(s) of the move, which may reach past
        # the plan's window; the write still covers only the window.
        days = (
            datetime.combine(start.date(), time(0), tzinfo=tz),
            datetime.combine(end.date() + timedelta(days=1), time(0), tzinfo=tz),
        )
        # So do a sprint's capacity and the weekly maximum ("max 40h/week") its whole week
        # (the week of the move's start).
        # By the rules' reading of the preferences, as the calendar view marks blocks; None
        # when a solve has the LLM read them: the LLM's hours and caps placed the client's
        # blocks, and a move holding row locks does not ask it, so those are not checked.
        prefs = (await self.s.preference_facts.solved_by_rules([plan.client_id]))[plan.client_id]
        monday = start.date() - timedelta(days=start.weekday())
        row = await self.repo.sprint_for_week(monday)
        sprint = None
        if row is not None or (prefs is not None and prefs.weekly_max_hours is not None):
            week = (
                datetime.combine(monday, time(0), tzinfo=tz),
                datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz),
            )
            sprint = (week, row.capacity_hrs if row is not None else None)
            days = (min(days[0], week[0]), max(days[1], week[1]))
        read = await self.calendar.events(min(w0, days[0]), max(w1, days[1]))
        events = [e for e in read if overlaps(e.start, e.end, window)]
        found = await move_conflicts(
            self.tasks,
            self.s.settings,
            tz,
            plan_id,
            task,
            aid,
            start,
            end,
            read,
            blocks,
            prefs,
            sprint,
        )
        if found and not body.force:
            raise Conflict(
                f"moving {aid!r} there conflicts with {len(found)} thing(s); "
                "send force=true to pin it anyway",
                errors=[{"field": "start", "message": c} for c in found],
            )
        seen, named = (events, window), (key, task.title)
        again = pins == (task.metadata_ or {}).get("pinned")
        # The block in UTC, as stored: a wall time in the autumn's repeated hour (fold=1)
        # never equals the same instant in another zone, so the block was not found again.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if again and old.fixed and (old.start, old.end) == (start, end):
            # The same move again (its answer lost, or its calendar write pending): nothing
            # new to record, and the calendar gets the same blocks, written or queued again.
            return await self._answer(plan_id, named, blocks, run, seen, pins, found)
        await self.tasks.set_metadata(task, {**(task.metadata_ or {}), "pinned": pins})
        why = "moved by you (pinned)" + (f"; conflicts: {'; '.join(found)}" if found else "")
        moved = replace(old, start=start, end=end, reason=why, fixed=True)
        renumbered = renumber([*[b for b in blocks if b is not old], moved])
        task.scheduled_start = cm.first_starts(renumbered, [key])[key]
        new_run = await self.repo.add_run(
            plan_id,
            "pinned",
            [pb.block_to_json(b) for b in renumbered],
            {
                **meta,
                "dry_run": False,
                "moved": {"from": aid, "start": start.isoformat(), "end": end.isoformat()},
                "warnings": found,
            },
        )
        out = await self._answer(plan_id, named, renumbered, new_run, seen, pins, found)
        new_run.metadata_ = {**new_run.metadata_, "calendar_event_ids": out.calendar.model_dump()}
        short = ((old.end - old.start) - (end - start)) / timedelta(hours=1)
        if short > 0:  # the task was left short until a replan, without a word
            out.warnings.append(
                f"the block is {short:g} h shorter than it was: {task.title!r} is planned "
                f"{short:g} h short until `almanac replan {plan_id}` places the rest"
            )
        return out

    async def _answer(
        self,
        plan_id: int,
        named: tuple[str, str],
        blocks: list[Block],
        run: SchedulerRun,
        seen: tuple[list[CalendarEvent], tuple[datetime, datetime]],
        pins: list[dict[str, str]],
        found: list[str],
    ) -> MoveBlockOut:
        """Write the plan's blocks of `run` to the calendar (queued while a remote calendar
        is unavailable: the move is committed either way) and answer with the moved one."""
        (key, title), (events, window), tz = named, seen, self.s.tz()
        specs = await Writer(self.s).specs({plan_id: blocks}, events, window, {})
        calendar = await write_or_queue(
            self.calendar, self.repo.session, specs, window, {plan_id: run.id}
        )
        warnings = list(found)
        if calendar.pending:
            warnings.append(calendar.detail or "the calendar write is pending")
        start = datetime.fromisoformat(pins[-1]["start"]).astimezone(UTC)
        mine = next(b for b in blocks if b.task_id == key and b.start.astimezone(UTC) == start)
        out = self.s.block_out(plan_id, mine, title, tz)
        return MoveBlockOut(
            block=out, pinned=pins, calendar=calendar, run_id=run.id, warnings=warnings
        )

    async def hold(self) -> None:
        """Wait for the schedule's other writers; held until this transaction ends."""
        await self.repo.lock_calendar()

    def _pins(
        self,
        metadata: dict[str, Any],
        old: Block,
        start: datetime,
        end: datetime,
        estimate: float | None,
        slot: int,
    ) -> list[dict[str, str]]:
        def same(p: dict[str, str], s: datetime, e: datetime) -> bool:
            try:
                return (
                    datetime.fromisoformat(p["start"]) == s
                    and datetime.fromisoformat(p["end"]) == e
                )
            except (KeyError, TypeError, ValueError):
                return False

        pins = [p for p in metadata.get("pinned") or [] if not same(p, old.start, old.end)]
        pins.append({"start": start.isoformat(), "end": end.isoformat()})
        duration = pb.to_core_task(
            pb.TaskInput("x", "x", estimate), set(), slot, []
        ).duration_minutes
        total = sum(
            (datetime.fromisoformat(p["end"]) - datetime.fromisoformat(p["start"])).total_seconds()
            / 60
            for p in pins
        )
        if total > duration:
            raise ValidationFailed(
                f"pinned blocks would total {total:g} min, more than the task's {duration} min",
                field="end",
            )
        return pins
