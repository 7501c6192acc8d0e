"""Blocks a task or plan no longer justifies leave the calendar at once, not at the next solve.

A task closed (done, cancelled) or a plan closed (cancelled, completed) frees every future
block; a lower estimate or hours recorded shrink the task's future blocks to its remaining
estimate, the latest first, so the work the user sees soonest stays. Blocks that have
started are history and never change. Kept blocks keep their chunk numbers (their calendar
events); the write goes through the schedule's writer under its lock (`lock_calendar`, taken
by the caller before any row lock).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from almanac.calendars.base import CalendarUnavailable
from almanac.models import Task
from almanac.models.status import CLOSED_PLAN_STATUSES
from almanac.planner.plans import PlanLifecycleService
from almanac.planner.schemas import PlanStatusIn
from almanac.scheduler import problem as pb
from almanac.scheduler.calendar_model import all_recorded, first_starts, remaining_hours
from almanac.scheduler.core import Block
from almanac.scheduler.core.explain import renumber
from almanac.scheduler.pending import queued, write_or_queue
from almanac.scheduler.schemas import (
    BlockChangeOut,
    BlockChanges,
    CalendarWriteOut,
    PlanStatusOut,
)
from almanac.scheduler.writer import Writer

if TYPE_CHECKING:
    from almanac.scheduler.service import SchedulerService

SHORTENED = "shortened to the task's remaining estimate"


@dataclass(frozen=True)
class Cut:
    """One future block changed: `end` is its new end when shortened, None when freed."""

    block: Block
    end: datetime | None


def _minutes(b: Block) -> int:
    return int((b.end - b.start).total_seconds() // 60)


def trim(
    blocks: list[Block], key: str, minutes: int, now: datetime, min_chunk: int
) -> tuple[list[Block], list[Cut]]:
    """Keep at most `minutes` of task `key`'s blocks that start at or after `now`, earliest
    first. The block where the allowance runs out is shortened if what is left of the
    allowance is at least `min_chunk`, else freed; every later one is freed."""
    future = sorted((b for b in blocks if b.task_id == key and b.start >= now), key=_at)
    left = max(0, minutes)
    changed: dict[tuple[str, int], Block | None] = {}
    cuts = []
    for b in future:
        length = _minutes(b)
        if length <= left:
            left -= length
            continue
        if left > 0 and left >= min_chunk:
            end = b.start + timedelta(minutes=left)
            reason = f"{b.reason}; {SHORTENED}" if b.reason else SHORTENED
            changed[(b.task_id, b.chunk)] = replace(b, end=end, reason=reason)
            cuts.append(Cut(b, end))
        else:
            changed[(b.task_id, b.chunk)] = None
            cuts.append(Cut(b, None))
        left = 0
    kept = []
    for b in blocks:
        new = changed.get((b.task_id, b.chunk), b)
        if new is not None:
            kept.append(new)
    return kept, cuts


def _at(b: Block) -> datetime:
    return b.start.astimezone(UTC)


class BlockFreeing:
    """Frees or shortens the future blocks of one task or one plan (see the module)."""

    def __init__(self, scheduler: SchedulerService) -> None:
        self.s = scheduler
        self.repo = scheduler.repo
        self.tasks = scheduler.tasks
        self.calendar = scheduler.calendar

    async def fit_task(self, task: Task, closed: bool) -> BlockChanges:
        """Free a closed task's future blocks, or shrink an open one's to what is left of its
        estimate (estimate less hours recorded, as the scheduler counts it)."""
        if task.plan_id is None or task.plan_task_key is None:
            return BlockChanges()
        run = await self.repo.last_applied_run(task.plan_id)
        if run is None:
            return BlockChanges()
        key = task.plan_task_key
        blocks = pb.blocks_from_json(run.schedule_blocks)
        slot = self.s.settings.slot_minutes
        if task.estimate_hours is None and not closed:
            # No estimate: the scheduler assumes one, so there is nothing to hold blocks to.
            return BlockChanges()
        if closed or all_recorded(task):
            # Closed, or its whole estimate recorded: the scheduler plans no time for it.
            minutes, min_chunk = 0, slot
        else:
            core = pb.to_core_task(
                pb.TaskInput(key, task.title, remaining_hours(task), metadata=task.metadata_ or {}),
                set(),
                slot,
                [],
            )
            minutes, min_chunk = core.duration_minutes, core.min_chunk_minutes or slot
        kept, cuts = trim(blocks, key, minutes, datetime.now(UTC), min_chunk)
        if not cuts:
            return BlockChanges()
        await self._unpin(task, cuts)
        # Its start is its earliest block left (None when all went), not a freed one.
        start = first_starts(kept, [key])[key]
        if (closed or all_recorded(task)) and task.scheduled_start not in (None, start):
            # Its blocks went because its work is finished: where it was planned stays
            # known (`planned_start`), so a reflection counts it planned there.
            assert task.scheduled_start is not None
            planned = {"planned_start": task.scheduled_start.isoformat()}
            await self.tasks.set_metadata(task, {**(task.metadata_ or {}), **planned})
        task.scheduled_start = start
        what: dict[str, Any] = {"task": key, "freed": sum(c.end is None for c in cuts)}
        what["shortened"] = len(cuts) - what["freed"]
        written = await self._write(task.plan_id, run.metadata_ or {}, kept, cuts, what)
        return BlockChanges(blocks=[self._out(task.plan_id, c) for c in cuts], calendar=written)

    async def set_plan_status(
        self, plans: PlanLifecycleService, plan_id: int, body: PlanStatusIn
    ) -> PlanStatusOut:
        """Move a plan along its lifecycle; closing it (cancelled, completed) frees its
        future blocks. The writers' lock comes before the plan's row lock, as for a solve."""
        closing = body.status in CLOSED_PLAN_STATUSES
        if closing:
            await self.repo.lock_calendar()
        plan = await plans.set_status(plan_id, body)
        freed = await self.free_plan(plan_id) if closing else BlockChanges()
        return PlanStatusOut(**dict(plan), freed_blocks=freed.blocks, calendar=freed.calendar)

    async def free_plan(self, plan_id: int) -> BlockChanges:
        """Free every future block of a closed plan."""
        run = await self.repo.last_applied_run(plan_id)
        if run is None:
            return BlockChanges()
        now = datetime.now(UTC)
        blocks = pb.blocks_from_json(run.schedule_blocks)
        cuts = [Cut(b, None) for b in sorted(blocks, key=_at) if b.start >= now]
        if not cuts:
            return BlockChanges()
        kept = [b for b in blocks if b.start < now]
        ids = await self.tasks.ids_by_key([plan_id])
        starts = first_starts(kept, sorted({c.block.task_id for c in cuts}))
        await self.tasks.set_scheduled_start(
            {ids[(plan_id, k)]: at for k, at in starts.items() if (plan_id, k) in ids}
        )
        what: dict[str, Any] = {"plan": plan_id, "freed": len(cuts)}
        written = await self._write(plan_id, run.metadata_ or {}, kept, cuts, what)
        return BlockChanges(blocks=[self._out(plan_id, c) for c in cuts], calendar=written)

    async def _unpin(self, task: Task, cuts: list[Cut]) -> None:
        """A pinned block that shrinks or goes takes its pin along (else the next solve would
        warn that the pin no longer fits, or hold the old length)."""
        meta = task.metadata_ or {}
        pins = meta.get("pinned")
        if not pins:
            return
        by_span = {(_utc_iso(c.block.start), _utc_iso(c.block.end)): c for c in cuts}
        out = []
        for pin in pins:
            try:
                cut = by_span.get((_utc_iso(pin["start"]), _utc_iso(pin["end"])))
            except (KeyError, TypeError, ValueError):
                cut = None
            if cut is None:
                out.append(pin)
            elif cut.end is not None:
                out.append({**pin, "end": cut.end.isoformat()})
        if out != pins:
            await self.tasks.set_metadata(task, {**meta, "pinned": out})

    async def _write(
        self,
        plan_id: int,
        meta: dict[str, Any],
        kept: list[Block],
        cuts: list[Cut],
        what: dict[str, Any],
    ) -> CalendarWriteOut:
        """A new run of `plan_id` with `kept`, then the calendar over the changed span only
        (the plan's past and held blocks there stay as they are)."""
        # Each kept block, a shortened one too, keeps its own number (its calendar event).
        numbered = renumber(kept)
        window = (min(c.block.start for c in cuts), max(c.block.end for c in cuts))
        run = await self.repo.add_run(
            plan_id,
            "scheduled",
            [pb.block_to_json(b) for b in numbered],
            {**meta, "dry_run": False, "released": what},
        )
        session = self.repo.session
        try:
            events = await self.calendar.events(*window)
        except CalendarUnavailable as exc:
            # A remote calendar that is down loses nothing: the run stands and a job writes
            # the plan's blocks once it answers (it reads the other plans' blocks then).
            specs = await Writer(self.s).specs({plan_id: numbered}, [], window, {})
            written = await queued(self.calendar, session, exc, specs, window, {plan_id: run.id})
        else:
            specs = await Writer(self.s).specs({plan_id: numbered}, events, window, {})
            written = await write_or_queue(self.calendar, session, specs, window, {plan_id: run.id})
        run.metadata_ = {**run.metadata_, "calendar_event_ids": written.model_dump()}
        return written

    def _out(self, plan_id: int, cut: Cut) -> BlockChangeOut:
        tz = self.s.tz()
        b = cut.block
        return BlockChangeOut(
            almanac_id=pb.almanac_id(plan_id, b.task_id, b.chunk),
            plan_id=plan_id,
            task_key=b.task_id,
            change="shortened" if cut.end is not None else "freed",
            start=b.start.astimezone(tz),
            end=b.end.astimezone(tz),
            new_end=cut.end.astimezone(tz) if cut.end is not None else None,
        )


def _utc_iso(value: datetime | str) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC)
