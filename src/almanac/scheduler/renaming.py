"""A renamed task's calendar blocks carry its new title: at once when the task is edited,
and at the next calendar sync for what could not be written then.

Only titles change, and only in place: each event keeps the times it has in the calendar
(where the user may have dragged it, before a sync adopted the move), no event is created
or deleted (one the user deleted stays deleted) and no run is recorded. Blocks that have
ended are history and keep the title they had. A remote calendar that is down is not
queued for: the title is saved, and the sync (`sync.py`, every 15 minutes) writes every
block whose title is not its task's, which also mends a queued write that carried an older
title.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from almanac.calendars.base import CalendarEvent, CalendarProvider, CalendarUnavailable, EventSpec
from almanac.models import SchedulerRun, Task
from almanac.redact import redact
from almanac.scheduler import problem as pb
from almanac.scheduler.pending import REMOTE
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import CalendarWriteOut


def run_window(run: SchedulerRun, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The run's window and its blocks: where its events may be, moved in a calendar app
    included (one moved past the horizon, not read, was taken for one the user deleted)."""
    meta = run.metadata_ or {}
    first = date.fromisoformat(meta.get("start_date", now.astimezone(tz).date().isoformat()))
    start = datetime.combine(first, time(0), tz)
    end = start + timedelta(days=int(meta.get("horizon_days", 14)) + 1)
    for block in pb.blocks_from_json(run.schedule_blocks):
        start, end = min(start, block.start), max(end, block.end)
    return start, end


def retitled(
    events: Sequence[CalendarEvent], titles: Mapping[tuple[int, str], str], now: datetime
) -> list[EventSpec]:
    """Almanac's events not ended whose task (in `titles`) is now called otherwise: with
    that title, where they are."""
    # A block the user repeated or copied in their calendar app reads as several events
    # with one id, and one made all-day has no times to keep: the next solve writes those.
    once = Counter(e.almanac_id for e in events)
    out: list[EventSpec] = []
    for e in events:
        parsed = pb.parse_almanac_id(e.almanac_id) if e.almanac_id else None
        if parsed is None or e.almanac_id is None or e.end <= now:
            continue
        if once[e.almanac_id] > 1 or e.all_day:
            continue
        title = titles.get(parsed[:2])
        if title is None:
            continue
        spec = EventSpec(e.almanac_id, title, e.start, e.end, e.description)
        if spec.title != e.title:  # compared as written: the spec cleans the title
            out.append(spec)
    return out


async def write_titles(calendar: CalendarProvider, specs: Sequence[EventSpec]) -> CalendarWriteOut:
    """Write `specs` (not empty) over their events, touching no other event (`only`)."""
    ids = {s.almanac_id for s in specs}
    start, end = min(s.start for s in specs), max(s.end for s in specs)
    result = await calendar.apply(specs, start, end, only=lambda aid: aid in ids)
    return CalendarWriteOut(provider=calendar.name, **vars(result))


class BlockRenaming:
    """Writes a renamed task's blocks with its new title (see the module)."""

    def __init__(self, repo: SchedulerRepository, calendar: CalendarProvider, tz: ZoneInfo) -> None:
        self.repo = repo
        self.calendar = calendar
        self.tz = tz

    async def retitle_task(self, task: Task) -> CalendarWriteOut | None:
        """Rename the task's blocks not ended; None when it has none (not scheduled, or all
        in the past)."""
        if task.plan_id is None or task.plan_task_key is None:
            return None
        run = await self.repo.last_applied_run(task.plan_id)
        if run is None:
            return None
        now = datetime.now(UTC)
        key = (task.plan_id, task.plan_task_key)
        if not any(
            b.task_id == task.plan_task_key and b.end > now
            for b in pb.blocks_from_json(run.schedule_blocks)
        ):
            return None
        start, end = run_window(run, self.tz, now)
        try:
            events = await self.calendar.events(max(start, now), end)
            specs = retitled(events, {key: task.title}, now)
            if not specs:
                return None
            return await write_titles(self.calendar, specs)
        except CalendarUnavailable as exc:
            if self.calendar.name not in REMOTE:
                raise  # the built-in calendar is rows in this transaction
            detail = (
                f"{redact(exc.message)}; the new title is saved, and the calendar sync "
                "writes it to the task's blocks once the calendar answers"
            )
            return CalendarWriteOut(provider=self.calendar.name, detail=detail)
