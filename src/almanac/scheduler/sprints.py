"""Sprints: a week's capacity and billable target, and how the calendar measures up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from almanac.billing import billable_share_pct, hours_in, logged_entries
from almanac.calendars.base import CalendarProvider
from almanac.db.repository import row_out
from almanac.errors import Conflict
from almanac.models import Sprint
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler import problem as pb
from almanac.scheduler.day_limits import DayLimits, above
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.solve_limits import SHORT_RUNWAY_WEEKS
from almanac.scheduler.sprint_schemas import SprintIn, SprintOut, SprintReport, SprintUpdate


def sprint_out(s: Sprint) -> SprintOut:
    return row_out(SprintOut, s)


class SprintService:
    """CRUD of sprints plus the week report built from the calendar's Almanac blocks."""

    def __init__(
        self,
        repo: SchedulerRepository,
        *,
        timezone: ZoneInfo,
        day_limits: Callable[[], Awaitable[DayLimits]],
    ) -> None:
        self.repo = repo
        self.tz = timezone
        # Read only for a report: the scheduler's limits, preferences included.
        self.day_limits = day_limits

    async def create(self, body: SprintIn) -> tuple[SprintOut, bool]:
        """Create the week's sprint; returns it and whether it is new. A week has one sprint:
        the same body again (a retried POST whose answer was lost) is the sprint it made,
        another body for that week a 409 naming what differs (change it with PUT)."""
        values = body.model_dump()
        sprint = await self.repo.insert_new(Sprint, values, "week_start")
        if sprint is not None:
            return sprint_out(sprint), True
        existing = await self.repo.sprint_for_week(body.week_start)
        if existing is None:  # deleted since the insert met it
            raise Conflict(f"the sprint of the week of {body.week_start} changed meanwhile; retry")
        # What the caller gave: a value left to its default is not one they asked for
        # (a second `sprints add --capacity 25` was told its --target differed).
        given = body.model_fields_set | {"week_start"}
        differs = [k for k, v in values.items() if k in given and getattr(existing, k) != v]
        if differs:
            raise Conflict(
                f"a sprint for the week of {body.week_start} already exists (sprint "
                f"{existing.id}) with another {', '.join(differs)}; change it with PUT "
                f"/api/v1/scheduler/sprints/{existing.id} (`almanac sprints set {existing.id}`)",
                errors=[
                    {"field": k, "message": "differs from the existing sprint's"} for k in differs
                ],
            )
        return sprint_out(existing), False

    async def list(self, limit: int, offset: int) -> list[SprintOut]:
        return [sprint_out(s) for s in await self.repo.sprints(limit, offset)]

    async def _get(self, sprint_id: int, *, for_update: bool = False) -> Sprint:
        lock = self.repo.lock_of(for_update)
        return await self.repo.require(Sprint, sprint_id, "sprint", lock=lock)

    async def update(self, sprint_id: int, body: SprintUpdate) -> SprintOut:
        sprint = await self._get(sprint_id, for_update=True)
        for name, value in body.model_dump(exclude_unset=True).items():
            if value is None and name == "capacity_hrs":
                continue  # capacity is required; null means "leave it"
            setattr(sprint, name, value)
        return sprint_out(await self.repo.save(sprint))

    async def delete(self, sprint_id: int) -> None:
        await self.repo.remove(await self._get(sprint_id, for_update=True))

    async def report(self, sprint_id: int, calendar: CalendarProvider) -> SprintReport:
        """Capacity used, billable share and warnings for the sprint's week in `calendar`."""
        sprint = await self._get(sprint_id)
        tz = self.tz
        begin = datetime.combine(sprint.week_start, datetime.min.time(), tzinfo=tz)
        week_end = sprint.week_start + timedelta(days=7)
        end_at = datetime.combine(week_end, datetime.min.time(), tzinfo=tz)
        events = await calendar.events(begin, end_at)
        blocks = []
        for e in events:
            parsed = pb.parse_almanac_id(e.almanac_id or "")
            if parsed is not None:
                blocks.append((parsed, max(e.start, begin), min(e.end, end_at)))
        billable = await TaskRepository(self.repo.session).billable_by_key(
            sorted({p[0] for p, _, _ in blocks})
        )
        by_day: dict[str, float] = defaultdict(float)
        used = billable_hours = 0.0
        for (plan_id, key, _), start, stop in blocks:
            hours = (stop - start).total_seconds() / 3600
            if hours <= 0:
                continue
            used += hours
            by_day[start.astimezone(tz).date().isoformat()] += hours
            if billable.get((plan_id, key), False):
                billable_hours += hours
        share = billable_share_pct(billable_hours, used)
        worked, worked_billable = await self._worked(begin, end_at)
        warnings = []
        if used > sprint.capacity_hrs + 1e-9:
            warnings.append(
                f"capacity exceeded: {used:g} h scheduled, capacity {sprint.capacity_hrs:g} h"
            )
        limits = await self.day_limits()
        for day, hours in sorted(by_day.items()):
            limit = limits.on(date.fromisoformat(day))
            if hours > limit[0] + 1e-9:
                warnings.append(f"overbooked on {day}: {hours:g} h, {above(limit)}")
        runway = sprint.runway_weeks
        target = sprint.billable_target_pct
        short = runway is not None and runway < SHORT_RUNWAY_WEEKS
        if short and share is not None and share < target:
            warnings.append(
                f"billable share of the scheduled hours {share:g}% (billable ÷ scheduled "
                f"hours) is under the {target:g}% target (runway {runway:g} weeks)"
            )
        return SprintReport(
            **sprint_out(sprint).model_dump(),
            used_hours=round(used, 2),
            billable_hours=round(billable_hours, 2),
            billable_share_pct=share,
            hours_by_day={d: round(h, 2) for d, h in sorted(by_day.items())},
            worked_hours=round(worked, 2),
            worked_billable_hours=round(worked_billable, 2),
            worked_billable_share_pct=billable_share_pct(worked_billable, worked),
            warnings=warnings,
            plan_ids=sorted({plan_id for (plan_id, _, _), _, _ in blocks}),
        )

    async def _worked(self, begin: datetime, end: datetime) -> tuple[float, float]:
        """Hours logged in the week and the billable part, counted as reflections count
        them: on the day worked, whatever the task's status."""
        worked = billable = 0.0
        for row in await TaskRepository(self.repo.session).runs_until(begin, end):
            run = row.run
            at = run.started_at or run.ended_at
            hours = hours_in(logged_entries(run.metadata_), run.actual_hours, at, begin, end)
            worked += hours
            if row.billable:
                billable += hours
        return worked, billable
