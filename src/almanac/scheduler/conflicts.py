"""What a hand-moved block conflicts with, and the conflicts the calendar view marks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from almanac.calendars.base import CalendarEvent
from almanac.config import SchedulerSettings
from almanac.models import Task
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler import problem as pb
from almanac.scheduler.core import Block
from almanac.scheduler.schemas import SchedulingPreferences


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> bool:
    return a0 < b1 and b0 < a1


def _minutes(start: datetime, end: datetime) -> float:
    # In UTC: two times in the same zone subtract as wall clocks, an hour off across DST.
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60


def _hm(when: datetime) -> str:
    return f"{when:%a %d %b %H:%M}"


def outside_hours(
    settings: SchedulerSettings,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    prefs: SchedulingPreferences | None = None,
) -> str | None:
    """Why [start, end) is outside working hours (settings refined by preferences), or None."""
    rules = pb.limits(settings, prefs or SchedulingPreferences(), [])
    s, e = start.astimezone(tz), end.astimezone(tz)
    if s.date() != e.date() and not (e.hour == 0 and e.minute == 0):
        return "it spans midnight"
    day = [w for w in rules.working_hours if w.weekday == s.weekday()]
    if not day:
        return f"{s:%A} is not a working day"
    if not any(w.start <= s.time() and (e.time() <= w.end and e.date() == s.date()) for w in day):
        hours = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in day)
        return f"outside working hours ({hours})"
    return None


def over_daily_max(
    settings: SchedulerSettings,
    tz: ZoneInfo,
    aid: str,
    start: datetime,
    end: datetime,
    events: Sequence[CalendarEvent],
    prefs: SchedulingPreferences | None = None,
) -> str | None:
    """Why moving block `aid` to [start, end) makes its day longer than the daily maximum.

    A day already past the maximum (pinned by force, or a preference said later) is no
    reason to refuse a move that leaves it no longer than it was (a shift within the day).
    """
    cap = pb.limits(settings, prefs or SchedulingPreferences(), []).daily_max_minutes
    if cap is None:
        return None
    day = start.astimezone(tz).date()
    minutes = _minutes(start, end)
    before = 0.0
    for e in events:
        # Every plan's blocks count, as in the solve; meetings do not.
        if e.almanac_id and e.start.astimezone(tz).date() == day:
            length = _minutes(e.start, e.end)
            before += length
            if e.almanac_id != aid:
                minutes += length
    if minutes <= cap or minutes <= before:
        return None
    return (
        f"makes {day:%a %d %b} {minutes / 60:g} h of work, above the daily maximum of "
        f"{cap / 60:g} h"
    )


def over_capacity(
    aid: str,
    start: datetime,
    end: datetime,
    events: Sequence[CalendarEvent],
    week: tuple[datetime, datetime],
    capacity_hours: float,
    weekly_max: bool = False,
) -> str | None:
    """Why moving block `aid` to [start, end) puts the week `week` over its capacity: the
    sprint's, or the preferences' weekly maximum (`weekly_max`, "max 40h/week").

    Counted as the sprint report counts it (every plan's blocks, clipped to the week); as
    for the daily maximum, a week already over it is no reason to refuse a move that leaves
    it no longer than it was.
    """
    minutes = _minutes(max(start, week[0]), min(end, week[1]))
    before = 0.0
    for e in events:
        lo, hi = max(e.start, week[0]), min(e.end, week[1])
        if e.almanac_id and lo < hi:
            length = _minutes(lo, hi)
            before += length
            if e.almanac_id != aid:
                minutes += length
    if minutes <= capacity_hours * 60 + 1e-6 or minutes <= before:
        return None
    if weekly_max:
        return (
            f"makes the week of {week[0]:%a %d %b} {minutes / 60:g} h of work, above the "
            f"weekly maximum of {capacity_hours:g} h"
        )
    return (
        f"makes the sprint week of {week[0]:%a %d %b} {minutes / 60:g} h of work, above its "
        f"capacity of {capacity_hours:g} h"
    )


def _over_week(
    aid: str,
    start: datetime,
    end: datetime,
    events: Sequence[CalendarEvent],
    week: tuple[datetime, datetime],
    capacity: float | None,
    prefs: SchedulingPreferences | None,
) -> str | None:
    """The week's limit a move breaks: the sprint's capacity or the weekly maximum, the
    smaller (the solve's weekly capacity is the smaller of the two)."""
    weekly = prefs.weekly_max_hours if prefs is not None else None
    if weekly is not None and (capacity is None or weekly < capacity):
        return over_capacity(aid, start, end, events, week, weekly, weekly_max=True)
    if capacity is None:
        return None
    return over_capacity(aid, start, end, events, week, capacity)


def _name(event: CalendarEvent, plan_id: int) -> str:
    """An event's title; another plan's block by "<plan>/<key>" (its title may be another
    client's), as the solve's answers and stored runs name it (`title_hider`)."""
    parsed = pb.parse_almanac_id(event.almanac_id) if event.almanac_id else None
    if parsed is not None and parsed[0] != plan_id:
        return f"{parsed[0]}/{parsed[1]}"
    return event.title


async def move_conflicts(
    tasks: TaskRepository,
    settings: SchedulerSettings,
    tz: ZoneInfo,
    plan_id: int,
    task: Task,
    aid: str,
    start: datetime,
    end: datetime,
    events: Sequence[CalendarEvent],
    blocks: Sequence[Block],
    prefs: SchedulingPreferences | None,
    sprint: tuple[tuple[datetime, datetime], float | None] | None = None,
) -> list[str]:
    """Every rule a move of block `aid` to [start, end) would break, as human lines;
    `prefs` None: hours and maxima the move cannot know (the LLM read them), not checked;
    `sprint`: the target week's span and its sprint's capacity in hours (None: no sprint),
    when a sprint or the preferences' weekly maximum limits that week (the smaller holds,
    as in the solve)."""
    out: list[str] = []
    for e in events:
        if not e.busy or e.almanac_id == aid or not _overlap(start, end, e.start, e.end):
            continue
        what = "another Almanac block" if e.almanac_id else "the event"
        out.append(f"overlaps {what} {_name(e, plan_id)!r} ({_hm(e.start.astimezone(tz))})")
    if prefs is not None and (why := outside_hours(settings, tz, start, end, prefs)):
        out.append(why)
    if prefs is not None and (why := over_daily_max(settings, tz, aid, start, end, events, prefs)):
        out.append(why)
    if sprint is not None and (why := _over_week(aid, start, end, events, *sprint, prefs)):
        out.append(why)
    key = task.plan_task_key or ""
    deps = {str(d) for d in task.depends_on or ()}
    for b in blocks:
        if b.task_id in deps and b.end > start:
            out.append(
                f"starts before its dependency {b.task_id!r} ends ({_hm(b.end.astimezone(tz))})"
            )
    for row in await tasks.open_of([plan_id]):
        if key and key in {str(d) for d in row.depends_on or ()}:
            first = min((b.start for b in blocks if b.task_id == row.plan_task_key), default=None)
            if first is not None and first < end:
                out.append(f"ends after {row.plan_task_key!r}, which depends on it, starts")
    if why := _late(tz, end, task.deadline):
        out.append(why)
    return out


def _late(tz: ZoneInfo, end: datetime, deadline: datetime | None) -> str | None:
    if deadline is None or end <= deadline:
        return None
    late = (end - deadline).total_seconds() / 3600
    return f"passes the task's deadline {_hm(deadline.astimezone(tz))} by {late:.1f} h"


def broken_rules(
    settings: SchedulerSettings,
    tz: ZoneInfo,
    block: CalendarEvent,
    prefs: SchedulingPreferences | None,
    deadline: datetime | None,
) -> list[str]:
    """What a placed block breaks on its own, as the calendar view marks it: working hours
    (as the preferences refine them; None: hours the view cannot know, not checked) and its
    task's deadline. A solve places none such but a late one; a forced move does."""
    found = [None if prefs is None else outside_hours(settings, tz, block.start, block.end, prefs)]
    found.append(_late(tz, block.end, deadline))
    return [why for why in found if why]


def mark_conflicts(events: Sequence[CalendarEvent]) -> dict[int, list[str]]:
    """Per event (its index in `events`), the busy events it overlaps (only pairs involving
    an Almanac block). By index, not uid: a series' occurrences share their UID, and one
    occurrence's overlap is not the others'."""
    out: dict[int, list[str]] = {}
    busy = sorted((i for i, e in enumerate(events) if e.busy), key=lambda i: events[i].start)
    for n, i in enumerate(busy):
        a = events[i]
        for j in busy[n + 1 :]:
            b = events[j]
            if b.start >= a.end:
                break
            if a.almanac_id is None and b.almanac_id is None:
                continue
            out.setdefault(i, []).append(f"overlaps {b.title!r}")
            out.setdefault(j, []).append(f"overlaps {a.title!r}")
    return out
