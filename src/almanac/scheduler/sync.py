"""Calendar sync: notice new events that collide with placed blocks, and settle each once.

Run by the clock (`jobs.calendar_sync_cron`) and safe to run again and again. A collision
with a block the solver may move is replanned around. A collision it cannot resolve (a block
the user pinned, or one frozen by being about to start) is stored once as a warning on the
block in the plan's current run, which the calendar view shows; later syncs find it reported
and write nothing. A sync that finds nothing to improve records no run. A block the user
moved in their calendar app is pinned where they put it (`_adopt_moves`); one they deleted is not
planned again (`_adopt_deletions`). One transaction per
plan, so a calendar that fails for one plan does not undo the others; a plan that could not be
checked fails the job (`SyncIncomplete`, retried), its reason in the jobs list. The writers' lock is
waited for at most `calendars.bounds.job_lock_wait`; then the sync stops with `Busy` and the
job is retried shortly.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError as PydanticValidationError

from almanac.calendars.base import ApplyResult, CalendarEvent, CalendarProvider, EventSpec, Scope
from almanac.calendars.bounds import job_lock_wait
from almanac.calendars.factory import configured_calendar
from almanac.db.limits import bound_lock_wait
from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.errors import AlmanacError, Busy, DependencyUnavailable, NotFound, ValidationFailed
from almanac.jobs.repository import plan_has_queued
from almanac.models import SchedulerRun
from almanac.models.status import WRITTEN_PLAN_STATUSES
from almanac.planner.repository import PlanRepository
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler import problem as pb
from almanac.scheduler.deps import scheduler_service
from almanac.scheduler.pending import TASK, write_or_queue
from almanac.scheduler.renaming import retitled, run_window, write_titles
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import MoveBlockIn, ReplanIn
from almanac.scheduler.writer import Writer
from almanac.state import AppState

logger = logging.getLogger(__name__)


class SyncIncomplete(DependencyUnavailable, title="Calendar sync incomplete"):
    """Plans the sync could not check (their reasons): its job fails and is retried."""


@dataclass
class SyncReport:
    """What one sync did, plan by plan."""

    checked: list[int] = field(default_factory=list)
    replanned: dict[int, float] = field(default_factory=dict)  # plan -> share of blocks moved
    warned: dict[int, int] = field(default_factory=dict)  # plan -> blocks whose warnings changed
    failed: dict[int, str] = field(default_factory=dict)
    adopted: dict[int, bool] = field(
        default_factory=dict
    )  # plan -> blocks moved on the server pinned
    removed: dict[int, int] = field(default_factory=dict)  # plan -> blocks the user deleted
    retitled: dict[int, int] = field(default_factory=dict)  # plan -> blocks given new titles

    def incomplete(self) -> SyncIncomplete | None:
        """What failed, as the job's error; None when every plan was checked."""
        if not self.failed:
            return None
        lines = [f"plan {plan}: {why}" for plan, why in sorted(self.failed.items())]
        return SyncIncomplete(
            f"calendar sync could not check {len(lines)} of {len(self.checked)} plan(s): "
            + "; ".join(lines)
        )


async def sync_calendar(state: AppState, now: datetime | None = None) -> SyncReport:
    """Replan or warn for every scheduled plan whose future blocks a user's event overlaps."""
    now = now or datetime.now(UTC)
    report = SyncReport()
    async with state.sessionmaker() as session:
        plan_ids = await PlanRepository(session).ids_with_status(WRITTEN_PLAN_STATUSES)
    for plan_id in plan_ids:
        report.checked.append(plan_id)
        try:  # one unit of work per plan: a failing plan does not undo the others
            async with unit_of_work(state.sessionmaker) as uow:
                bound_lock_wait(uow.session, job_lock_wait(state.settings))
                calendar = configured_calendar(state, uow.session)
                try:
                    await _sync_plan(uow, calendar, state, plan_id, now, report)
                finally:
                    await calendar.close()
        except Busy as exc:
            # Another writer holds the schedule past the wait: the rest waits for the
            # retry (the plans done so far are committed; a rerun changes nothing there).
            logger.info("calendar busy: the calendar sync stops at plan %s: %s", plan_id, exc)
            raise
        except AlmanacError as exc:
            report.replanned.pop(plan_id, None)
            report.warned.pop(plan_id, None)
            report.adopted.pop(plan_id, None)
            report.removed.pop(plan_id, None)
            report.retitled.pop(plan_id, None)
            report.failed[plan_id] = exc.message
            logger.warning("calendar sync of plan %s failed: %s", plan_id, exc.message)
    return report


async def _sync_plan(
    uow: UnitOfWork,
    calendar: CalendarProvider,
    state: AppState,
    plan_id: int,
    now: datetime,
    report: SyncReport,
) -> None:
    repo = SchedulerRepository(uow.session)
    # The run read here is written back (its warnings): no other writer in between.
    await repo.lock_calendar()
    run = await repo.last_applied_run(plan_id)
    if run is None:
        return
    read = await _events(calendar, state, run, now)
    # Titles first, where the events are: a rename the calendar missed (it was down, or a
    # queued write carried the older title). Times are untouched, so what follows reads
    # the same moves and deletions.
    titles = await TaskRepository(uow.session).titles([plan_id])
    renamed = retitled(read, titles, now)
    if renamed:
        await write_titles(calendar, renamed)
        report.retitled[plan_id] = len(renamed)
    if await _adopt_moves(uow, calendar, state, plan_id, run, read, now):
        report.adopted[plan_id] = True
        run = await repo.last_applied_run(plan_id) or run
    removed = await _adopt_deletions(uow, plan_id, run, read, now)
    if removed:
        out = await scheduler_service(uow, calendar, state).replan(
            ReplanIn(
                plan_id=plan_id,
                reason=f"calendar sync: {removed} block(s) removed from the calendar by you "
                "are not planned again",
                dry_run=False,
            )
        )
        report.removed[plan_id] = removed
        if out.run_id != run.id:
            run = await repo.last_applied_run(plan_id) or run
            read = await _events(calendar, state, run, now)
    events = _theirs(read)
    found = clash_warnings(run.schedule_blocks, events, now, ZoneInfo(state.settings.timezone))
    # Replan only for a collision the solver may resolve and nobody was told about yet.
    fresh = [
        i
        for i, lines in found.items()
        if not run.schedule_blocks[i].get("fixed")
        and not set(lines) <= set(run.schedule_blocks[i].get("warnings") or [])
    ]
    if fresh:
        out = await scheduler_service(uow, calendar, state).replan(
            ReplanIn(
                plan_id=plan_id,
                reason=f"calendar sync: {len(fresh)} block(s) now overlap the user's events",
                dry_run=False,
            )
        )
        if out.run_id != run.id:
            report.replanned[plan_id] = out.moved_share
            run = await repo.last_applied_run(plan_id) or run
            events = _theirs(await _events(calendar, state, run, now))
            found = clash_warnings(
                run.schedule_blocks, events, now, ZoneInfo(state.settings.timezone)
            )
    # What is left cannot be resolved here: store it once on the block (or clear it once gone).
    rows, changed = [], 0
    for i, row in enumerate(run.schedule_blocks):
        want = found.get(i, [])
        if sorted(row.get("warnings") or []) != sorted(want):
            changed += 1
            row = {k: v for k, v in row.items() if k != "warnings"}
            if want:
                row["warnings"] = want
        rows.append(row)
    if changed:
        await repo.set_run_blocks(run, rows)
        report.warned[plan_id] = changed


async def _events(
    calendar: CalendarProvider, state: AppState, run: SchedulerRun, now: datetime
) -> list[CalendarEvent]:
    """Every event over the run's window and its blocks (the user's and Almanac's)."""
    return await calendar.events(*run_window(run, ZoneInfo(state.settings.timezone), now))


def _theirs(events: Sequence[CalendarEvent]) -> list[CalendarEvent]:
    """The user's busy events."""
    return [e for e in events if e.busy and e.almanac_id is None]


async def _adopt_moves(
    uow: UnitOfWork,
    calendar: CalendarProvider,
    state: AppState,
    plan_id: int,
    run: SchedulerRun,
    events: Sequence[CalendarEvent],
    now: datetime,
) -> bool:
    """Pin, where the user put it, each future block they moved in their calendar app (its
    event has other times than the run's block): otherwise the next solve would silently
    move it back. As a move by hand with `force` (PUT /scheduler/calendar/{id}): conflicts
    become warnings on the block. A move the scheduler cannot hold (off the slot grid, more
    than the task's estimate) is logged and left to the next solve. True when one was."""
    blocks = {
        pb.almanac_id(plan_id, b.task_id, b.chunk): b
        for b in pb.blocks_from_json(run.schedule_blocks)
    }
    once = Counter(e.almanac_id for e in events)
    moves = [
        (e.almanac_id, e.start, e.end)
        for e in events
        if e.almanac_id in blocks
        and once[e.almanac_id] == 1  # a duplicate is removed by the next write, not pinned
        and (e.start, e.end) != (blocks[e.almanac_id].start, blocks[e.almanac_id].end)
        and min(blocks[e.almanac_id].end, e.end) > now
    ]
    if not moves or await plan_has_queued(uow.session, TASK, plan_id, run.id):
        # With a write still queued, or the run's write failed for good, the calendar is
        # behind the run, not moved by the user.
        return False
    from almanac.scheduler.blocks import BlockService  # blocks imports the service layer

    # Each move writes the plan's blocks: held back, then written once for the last run,
    # so the user's other moves are not undone on the server in between.
    held = _Held(calendar)
    scheduler = scheduler_service(uow, held, state)
    service = BlockService(scheduler)
    window = _run_window(run)
    for aid, start, end in moves:
        try:
            await service.move(aid, MoveBlockIn(start=start, end=end, force=True))
        except (PydanticValidationError, ValidationFailed, NotFound) as exc:
            logger.warning("block %s moved in the calendar cannot be pinned: %s", aid, exc)
            continue
        window = (min(window[0], start), max(window[1], end))
    latest = await SchedulerRepository(uow.session).last_applied_run(plan_id)
    if latest is None or latest.id == run.id:
        return False
    blocks_now = pb.blocks_from_json(latest.schedule_blocks)
    read = await calendar.events(*window)
    specs = await Writer(scheduler).specs({plan_id: blocks_now}, read, window, {})
    await write_or_queue(calendar, uow.session, specs, window, {plan_id: latest.id})
    return True


async def _adopt_deletions(
    uow: UnitOfWork, plan_id: int, run: SchedulerRun, events: Sequence[CalendarEvent], now: datetime
) -> int:
    """The user's decision, each future block they deleted in their calendar app: its hours
    are taken off what is planned for its task (`calendar_model.removed_hours`, until its
    estimate is set anew), so the next solve does not write it back. None is adopted while
    a write is queued, or when none of the run's blocks is on the calendar (not written
    there, or the calendar emptied: nobody's decision). The number adopted."""
    blocks = {
        pb.almanac_id(plan_id, b.task_id, b.chunk): b
        for b in pb.blocks_from_json(run.schedule_blocks)
    }
    present = {e.almanac_id for e in events} & set(blocks)
    gone = [b for aid, b in blocks.items() if aid not in present and b.start > now]
    if not gone or not present or await plan_has_queued(uow.session, TASK, plan_id, run.id):
        return 0
    tasks = TaskRepository(uow.session)
    for key in sorted({b.task_id for b in gone}):
        task = await tasks.by_key(plan_id, key, for_update=True)
        if task is None:
            continue
        mine = [b for b in gone if b.task_id == key]
        hours = sum((b.end - b.start).total_seconds() for b in mine) / 3600
        meta = dict(task.metadata_ or {})
        meta["removed_hours"] = round(float(meta.get("removed_hours") or 0) + hours, 4)
        if meta.get("pinned"):
            # A block pinned where the user moved it, deleted since: its pin kept it, so the
            # replan wrote it back there and dropped the task's other hours instead.
            spans = {(b.start, b.end) for b in mine}
            meta["pinned"] = [p for p in meta["pinned"] if _span(p) not in spans]
        await tasks.set_metadata(task, meta)
    return len(gone)


def _span(pin: Any) -> tuple[datetime, datetime] | None:
    try:
        return datetime.fromisoformat(pin["start"]), datetime.fromisoformat(pin["end"])
    except (KeyError, TypeError, ValueError):
        return None  # unreadable: kept for `problem._pins` to warn about


def _run_window(run: SchedulerRun) -> tuple[datetime, datetime]:
    meta = run.metadata_ or {}
    return datetime.fromisoformat(meta["window_start"]), datetime.fromisoformat(meta["window_end"])


class _Held(CalendarProvider):
    """`calendar` read as it is, its writes skipped (the caller writes once at the end)."""

    def __init__(self, calendar: CalendarProvider) -> None:
        self.inner = calendar
        self.name = calendar.name

    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        return await self.inner.events(start, end)

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        return ApplyResult()

    async def check(self) -> None:
        await self.inner.check()


def clash_warnings(
    rows: Sequence[dict[str, Any]], events: Sequence[CalendarEvent], now: datetime, tz: ZoneInfo
) -> dict[int, list[str]]:
    """Per stored block still to come (by index), one line per user's event it overlaps."""
    out: dict[int, list[str]] = {}
    for i, row in enumerate(rows):
        block = pb.blocks_from_json([row])
        if not block or block[0].end <= now:
            continue
        b = block[0]
        why = "pinned by you" if row.get("fixed") else "no other time was found for it"
        lines = [
            f"overlaps your event {e.title!r} ({e.start.astimezone(tz):%a %d %b %H:%M}); "
            f"{why}, so the sync leaves it"
            for e in sorted(events, key=lambda e: (e.start, e.uid))
            if e.start < b.end and b.start < e.end
        ]
        if lines:
            out[i] = lines
    return out
