"""What a solve takes from outside the tasks: the sprints' weekly capacity and billable
target, and which of the named plan's tasks are new work."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from almanac.scheduler import calendar_model as cm
from almanac.scheduler.repository import SchedulerRepository

if TYPE_CHECKING:
    from almanac.scheduler.service import Context

SHORT_RUNWAY_WEEKS = 12  # below this, the sprint's billable target becomes a solver goal


async def sprint_limits(
    repo: SchedulerRepository, ctx: Context
) -> tuple[tuple[tuple[date, float], ...], float | None]:
    """Each sprint's capacity for its own week in the solve's horizon (one week's sprint
    capped every week of it: a two-week replan took most work off the calendar), and the
    billable share target of the sprints with a short runway."""
    monday = ctx.start_date - timedelta(days=ctx.start_date.weekday())
    last = ctx.start_date + timedelta(days=ctx.days - 1)
    sprints = await repo.sprints_between(monday, last)
    if not sprints:
        return (), None
    by_week = tuple((s.week_start, float(s.capacity_hrs)) for s in sprints)
    short = [
        s for s in sprints if s.runway_weeks is not None and s.runway_weeks < SHORT_RUNWAY_WEEKS
    ]
    target = max((s.billable_target_pct for s in short), default=None)
    return by_week, (target / 100 if target is not None else None)


def new_work(ctx: Context, inputs: cm.CalendarInputs) -> tuple[str, ...]:
    """The named plan's tasks with no previous block: the work this request newly places."""
    had = {b.task_id for b in inputs.previous}
    named = [i.key for i in inputs.inputs if inputs.plan_of(i.key) == ctx.plan.id]
    return tuple(k for k in named if k not in had)
