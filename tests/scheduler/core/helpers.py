"""Small builders shared by the scheduler core tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from almanac.scheduler.core import Problem, Schedule, Task, solve, validate

LONDON = ZoneInfo("Europe/London")
MONDAY = datetime(2025, 3, 3, tzinfo=LONDON)  # no clock change that week


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """`day` days after Monday 3 March 2025, at the given London wall-clock time."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def make_problem(tasks: Iterable[Task], *, days: int = 5, **kw: Any) -> Problem:
    """Monday 08:00 London, office hours, a horizon of `days` days."""
    now = kw.pop("now", at(0, 8))
    kw.setdefault("time_limit_seconds", 5.0)
    return Problem(
        tasks=tuple(tasks),
        now=now,
        horizon_start=kw.pop("horizon_start", now),
        horizon_end=kw.pop("horizon_end", MONDAY + timedelta(days=days)),
        timezone=kw.pop("timezone", "Europe/London"),
        **kw,
    )


def checked(problem: Problem, solver: Callable[[Problem], Schedule] = solve) -> Schedule:
    """Solve and insist the independent validator finds nothing wrong."""
    schedule = solver(problem)
    assert validate(problem, schedule) == []
    return schedule


def spans(schedule: Schedule, task_id: str, tz: ZoneInfo = LONDON) -> list[tuple[str, str]]:
    """A task's blocks as ("Mon 09:00", "10:00") pairs in local time."""
    return [
        (f"{b.start.astimezone(tz):%a %H:%M}", f"{b.end.astimezone(tz):%H:%M}")
        for b in schedule.blocks_for(task_id)
    ]


def causes(schedule: Schedule) -> dict[str, str]:
    return {u.task_id: u.cause.value for u in schedule.unplaced}
