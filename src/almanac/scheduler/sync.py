"""Calendar sync: notice new events that collide with placed blocks, and replan around them.

Run by the clock (`jobs.calendar_sync_cron`) and safe to run twice: once a plan has been
replanned its blocks no longer collide, so the next run changes nothing. One transaction
per plan, so a calendar that fails for one plan does not undo the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from almanac.calendars.base import CalendarProvider
from almanac.calendars.factory import build_calendar
from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.errors import AlmanacError
from almanac.scheduler import problem as pb
from almanac.scheduler.deps import scheduler_service
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import ReplanIn
from almanac.state import AppState

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one sync did, plan by plan."""

    checked: list[int] = field(default_factory=list)
    replanned: dict[int, float] = field(default_factory=dict)  # plan -> share of blocks moved
    failed: dict[int, str] = field(default_factory=dict)


async def sync_calendar(state: AppState, now: datetime | None = None) -> SyncReport:
    """Replan every scheduled plan whose future blocks a user's event now overlaps."""
    now = now or datetime.now(UTC)
    report = SyncReport()
    async with state.sessionmaker() as session:
        plan_ids = await SchedulerRepository(session).plans_in_calendar()
    for plan_id in plan_ids:
        report.checked.append(plan_id)
        try:  # one unit of work per plan: a failing plan does not undo the others
            async with unit_of_work(state.sessionmaker) as uow:
                calendar = build_calendar(
                    state.settings.calendar,
                    session=uow.session,
                    cache=state.cache,
                    timezone=state.settings.timezone,
                )
                try:
                    clashes = await _clashes(uow, calendar, state, plan_id, now)
                    if clashes:
                        out = await scheduler_service(uow, calendar, state).replan(
                            ReplanIn(
                                plan_id=plan_id,
                                reason=f"calendar sync: {clashes} new event(s) overlap "
                                "placed blocks",
                                dry_run=False,
                            )
                        )
                        report.replanned[plan_id] = out.moved_share
                finally:
                    await calendar.close()
        except AlmanacError as exc:
            report.replanned.pop(plan_id, None)
            report.failed[plan_id] = exc.message
            logger.warning("calendar sync of plan %s failed: %s", plan_id, exc.message)
    return report


async def _clashes(
    uow: UnitOfWork, calendar: CalendarProvider, state: AppState, plan_id: int, now: datetime
) -> int:
    """How many of the user's busy events overlap the plan's blocks still to come."""
    run = await SchedulerRepository(uow.session).last_applied_run(plan_id)
    if run is None:
        return 0
    # Pinned blocks stay where the user put them, so an event on one cannot be resolved by a
    # replan: it is left to the calendar view's conflict marks instead of replanning forever.
    blocks = [b for b in pb.blocks_from_json(run.schedule_blocks) if b.end > now and not b.fixed]
    if not blocks:
        return 0
    tz = ZoneInfo(state.settings.timezone)
    meta = run.metadata_ or {}
    first = date.fromisoformat(meta.get("start_date", now.astimezone(tz).date().isoformat()))
    start = datetime.combine(first, time(0), tz)
    end = start + timedelta(days=int(meta.get("horizon_days", 14)) + 1)
    events = [e for e in await calendar.events(start, end) if e.busy and e.almanac_id is None]
    return sum(1 for e in events if any(e.start < b.end and b.start < e.end for b in blocks))
