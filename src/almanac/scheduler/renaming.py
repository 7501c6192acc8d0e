"""A task renamed carries its new title onto its calendar blocks at once, not at the next
solve (the user looks for the task by its new name in their calendar).

The blocks stay where they are: no new run. The events of the task's blocks that have not
ended are written with the new title through the schedule's writer, under its lock (taken by
the caller before any row lock, as for freeing), and a remote calendar that is down gets
the write queued as a job (`pending`), as a schedule's write does. Blocks that have ended
are history and keep the title they had.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from almanac.calendars.base import CalendarUnavailable
from almanac.models import Task
from almanac.scheduler import problem as pb
from almanac.scheduler.pending import queued, write_or_queue
from almanac.scheduler.schemas import CalendarWriteOut
from almanac.scheduler.writer import Writer

if TYPE_CHECKING:
    from almanac.scheduler.service import SchedulerService


class BlockRenaming:
    """Writes a renamed task's blocks with its new title (see the module)."""

    def __init__(self, scheduler: SchedulerService) -> None:
        self.s = scheduler
        self.repo = scheduler.repo
        self.calendar = scheduler.calendar

    async def retitle_task(self, task: Task) -> CalendarWriteOut | None:
        """Write the task's blocks that have not ended under its (new) title; None when it
        has none (not scheduled, or all in the past)."""
        if task.plan_id is None or task.plan_task_key is None:
            return None
        run = await self.repo.last_applied_run(task.plan_id)
        if run is None:
            return None
        blocks = pb.blocks_from_json(run.schedule_blocks)
        now = datetime.now(UTC)
        mine = [b for b in blocks if b.task_id == task.plan_task_key and b.end > now]
        if not mine:
            return None
        # The window starts at the first block not ended: the ones before it stay as they are.
        window = (min(b.start for b in mine), max(b.end for b in mine))
        written = {task.plan_id: blocks}
        runs = {task.plan_id: run.id}
        session = self.repo.session
        try:
            events = await self.calendar.events(*window)
        except CalendarUnavailable as exc:
            # Down: the job writes the plan's blocks once it answers (it reads the others then).
            specs = await Writer(self.s).specs(written, [], window, {})
            return await queued(self.calendar, session, exc, specs, window, runs)
        specs = await Writer(self.s).specs(written, events, window, {})
        return await write_or_queue(self.calendar, session, specs, window, runs)
