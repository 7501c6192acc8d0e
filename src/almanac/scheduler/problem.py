"""Pure helpers between the database and the core: rows + busy + preferences → Problem, and
schedules back to the API's and the calendar's terms (which blocks moved and why:
`moves`). No I/O here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from almanac.config import SchedulerSettings
from almanac.errors import ValidationFailed
from almanac.models.status import DONE_TASK_STATUSES
from almanac.scheduler.core import (
    Block,
    Interval,
    PreferredWindow,
    Problem,
    Task,
    WorkingWindow,
)
from almanac.scheduler.schemas import SchedulingPreferences
from almanac.types import BIGINT_MAX

DEFAULT_ESTIMATE_HOURS = 1.0
_MAX_CHUNK = 120  # minutes; longer tasks are split into focus blocks of at most two hours
_MIN_CHUNK = 30
_ALMANAC_ID = re.compile(r"^plan(\d{1,19})-(.+)-(\d{1,9})$")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PLAN_PREFIX = re.compile(r"^p\d+/")  # calendar_model.core_id's "p{plan}/" before a key


@dataclass(frozen=True)
class TaskInput:
    """A plan task as the scheduler needs it (built from a `tasks` row)."""

    key: str
    title: str
    estimate_hours: float | None
    priority: int = 2
    billable: bool = False
    depends_on: tuple[str, ...] = ()
    earliest_start: datetime | None = None
    deadline: datetime | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""  # the key users know (the plan's task key) when `key` is a core id

    @property
    def label(self) -> str:
        return self.name or self.key


@dataclass(frozen=True)
class ClosedTask:
    """A closed task a dependency may name: its status, title and key (as `TaskInput.name`).

    `title` is None for another plan's task: the whole calendar is solved at once, so its
    warnings reach this plan's answer, which must not carry another client's titles."""

    status: str
    title: str | None
    name: str


def task_names(
    tasks: Sequence[TaskInput], closed: Mapping[str, ClosedTask] | None = None
) -> dict[str, str]:
    """How warnings name each task (by id): its title, with its key when another task
    has the same title (the ids are internal, e.g. "p12/review")."""
    named = [(t.key, t.title, t.label) for t in tasks]
    named += [(k, c.title, c.name) for k, c in (closed or {}).items() if c.title is not None]
    seen = Counter(title.strip().casefold() for _, title, _ in named)
    names = {
        key: repr(title) if seen[title.strip().casefold()] == 1 else f"{title!r} ({name})"
        for key, title, name in named
    }
    names.update({k: repr(c.name) for k, c in (closed or {}).items() if c.title is None})
    return names


@dataclass(frozen=True)
class Limits:
    """Working-time rules after settings were refined by preferences."""

    working_hours: tuple[WorkingWindow, ...]
    preferred: tuple[PreferredWindow, ...]
    buffer_minutes: int
    daily_max_minutes: int | None


def almanac_id(plan_id: int, task_key: str, chunk: int) -> str:
    """The calendar id of one block: stable across runs so `apply` is a diff."""
    return f"plan{plan_id}-{task_key}-{chunk}"


def parse_almanac_id(value: str) -> tuple[int, str, int] | None:
    """(plan id, task key, chunk) of a block id, or None when it is not one of ours."""
    m = _ALMANAC_ID.match(value)
    if m is None or not 1 <= int(m.group(1)) <= BIGINT_MAX:
        return None  # the id came back from a calendar: no plan can have that number
    return (int(m.group(1)), m.group(2), int(m.group(3)))


def limits(
    settings: SchedulerSettings, prefs: SchedulingPreferences, warnings: list[str]
) -> Limits:
    """Working windows, preferred windows, buffer and daily max from settings and preferences
    (`preferences.settle` has taken out what would leave no working time)."""
    start, end = prefs.hours(settings.workday_start, settings.workday_end)
    if start >= end:
        warnings.append("preferences leave no working time in a day; using the settings")
        start, end = settings.workday_start, settings.workday_end
    usual = [d - 1 for d in settings.working_days if 1 <= d <= 7]
    days = prefs.working_days if prefs.working_days is not None else usual
    if not days:
        # "No work on Mondays" ... "on Fridays" with weekends off: like hours that leave no
        # time, said so and the settings' days used, not a silent "no capacity".
        warnings.append("preferences leave no working day in the week; using the settings")
        days = usual
    working: list[WorkingWindow] = []
    for d in sorted(set(days)):
        lo, hi = prefs.hours_on(d, start, end)  # "no work before 11 on Mondays"
        if lo >= hi:
            name = _WEEKDAYS[d]
            warnings.append(f"preferences leave no working time on {name}s; using the day's hours")
            lo, hi = start, end
        working.append(WorkingWindow(d, lo, hi))
    preferred: list[PreferredWindow] = []
    for w in prefs.preferred_windows:
        for ww in working:
            lo, hi = max(w.start, ww.start), min(w.end, ww.end)
            if lo < hi and ww.weekday in w.weekdays:
                preferred.append(PreferredWindow(ww.weekday, lo, hi))
    buffer = prefs.buffer_minutes if prefs.buffer_minutes is not None else settings.buffer_minutes
    daily = prefs.daily_max_hours if prefs.daily_max_hours is not None else settings.daily_max_hours
    # At least a minute: "at most 0.01 hours a day" (0 minutes) is a cap the core refuses,
    # which made every schedule a 422 the request could not fix.
    cap = max(1, int(daily * 60)) if daily is not None else None
    return Limits(tuple(working), tuple(preferred), buffer, cap)


def _round_up(minutes: float, slot: int) -> int:
    return max(slot, math.ceil(minutes / slot - 1e-9) * slot)


def _pins(task: TaskInput, duration: int, slot: int, warnings: list[str]) -> list[Interval]:
    out: list[Interval] = []
    for raw in task.metadata.get("pinned") or []:
        try:
            pin = Interval(datetime.fromisoformat(raw["start"]), datetime.fromisoformat(raw["end"]))
        except (KeyError, TypeError, ValueError):
            warnings.append(f"task {task.label!r}: ignored an unreadable pinned block {raw!r}")
            continue
        if pin.minutes % slot or sum(p.minutes for p in out) + pin.minutes > duration:
            warnings.append(f"task {task.label!r}: ignored pinned block {raw!r} (does not fit)")
            continue
        out.append(pin)
    return out


def to_core_task(
    task: TaskInput,
    known: set[str],
    slot: int,
    warnings: list[str],
    closed: Mapping[str, ClosedTask] | None = None,
    names: Mapping[str, str] | None = None,
) -> Task:
    """One core Task; durations are rounded up to whole slots, long tasks may be split.

    A dependency outside `known` (the open tasks) is dropped: silently when `closed` says
    it is done (it is satisfied), with a warning naming it (`names`, else its key) when it
    was cancelled or skipped or is unknown."""
    hours = task.estimate_hours
    if hours is None or hours <= 0:
        assumed = DEFAULT_ESTIMATE_HOURS
        warnings.append(f"task {task.label!r} has no estimate; assumed {assumed:g} h")
        hours = DEFAULT_ESTIMATE_HOURS
    duration = _round_up(hours * 60, slot)
    meta = task.metadata
    lo = _round_up(float(meta.get("min_chunk_minutes") or _MIN_CHUNK), slot)
    hi = max(lo, _round_up(float(meta.get("max_chunk_minutes") or _MAX_CHUNK), slot))
    splittable = bool(meta.get("splittable", duration > hi))
    deps = []
    for dep in task.depends_on:
        if dep in known:
            deps.append(dep)
        else:
            _dropped_dependency(task, dep, closed, names or {}, warnings)
    try:
        return Task(
            id=task.key,
            title=task.title,
            duration_minutes=duration,
            priority=max(1, min(4, task.priority)),
            splittable=splittable,
            min_chunk_minutes=lo if splittable else None,
            max_chunk_minutes=hi if splittable else None,
            earliest_start=task.earliest_start,
            deadline=task.deadline,
            hard_deadline=bool(meta.get("hard_deadline")) and task.deadline is not None,
            depends_on=tuple(deps),
            billable=task.billable,
            tags=tuple(str(t) for t in meta.get("tags") or ()),
            pinned=tuple(_pins(task, duration, slot, warnings)),
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), field=f"tasks.{task.label}") from exc


def _dropped_dependency(
    task: TaskInput,
    dep: str,
    closed: Mapping[str, ClosedTask] | None,
    names: Mapping[str, str],
    warnings: list[str],
) -> None:
    # An unknown id names no title: its key, without the "p12/" of the calendar's ids.
    name = names.get(dep) or repr(_PLAN_PREFIX.sub("", dep))
    if closed is None:  # the caller does not know what became of it
        warnings.append(f"task {task.label!r}: dependency {name} is not open; ignored")
        return
    found = closed.get(dep)
    if found is not None and found.status in DONE_TASK_STATUSES:
        return  # done: satisfied, nothing to say
    if found is not None:
        warnings.append(
            f"task {task.label!r}: dependency {name} is {found.status}; ignored, the task no "
            "longer waits for it"
        )
    else:
        warnings.append(f"task {task.label!r}: dependency {name} is not a task; ignored")


def build_problem(
    tasks: Sequence[TaskInput],
    *,
    settings: SchedulerSettings,
    prefs: SchedulingPreferences,
    timezone: str,
    now: datetime,
    horizon: tuple[datetime, datetime],
    busy: Sequence[tuple[datetime, datetime]],
    weekly_capacity_hours: float | None,
    billable_share_target: float | None,
    previous: Sequence[Block],
    capacity_by_week: Sequence[tuple[date, float]] = (),
    warnings: list[str],
    replan_scope: Literal["repair", "full"] = "repair",
    new_tasks: tuple[str, ...] = (),
    held: Sequence[Block] = (),
    closed: Mapping[str, ClosedTask] | None = None,
) -> Problem:
    """The core Problem for one plan (ValidationFailed naming the field when it is unusable).

    `closed` maps closed tasks' ids to their status and title, so dependencies on done
    tasks count as satisfied without a warning and others are named by title."""
    rules = limits(settings, prefs, warnings)
    slot = settings.slot_minutes
    known = {t.key for t in tasks}
    names = task_names(tasks, closed)
    core_tasks = tuple(to_core_task(t, known, slot, warnings, closed, names) for t in tasks)
    try:
        return Problem(
            tasks=core_tasks,
            now=now,
            horizon_start=horizon[0],
            horizon_end=horizon[1],
            timezone=timezone,
            working_hours=rules.working_hours,
            busy=tuple(Interval(s, e) for s, e in busy if s < e),
            preferred_windows=rules.preferred,
            buffer_minutes=rules.buffer_minutes,
            daily_max_minutes=rules.daily_max_minutes,
            weekly_capacity_hours=weekly_capacity_hours,
            capacity_by_week=tuple(capacity_by_week),
            billable_share_target=billable_share_target,
            frozen_hours=settings.frozen_hours,
            previous=tuple(b for b in previous if b.task_id in known),
            held=tuple(b for b in held if b.task_id in known),
            slot_minutes=slot,
            time_limit_seconds=settings.time_limit_seconds,
            replan_scope=replan_scope,
            new_tasks=new_tasks,
        )
    except ValueError as exc:
        raise ValidationFailed(f"cannot build the scheduling problem: {exc}") from exc


def block_to_json(block: Block) -> dict[str, Any]:
    """A block as stored in `scheduler_runs.schedule_blocks`."""
    return {
        "task_key": block.task_id,
        "chunk": block.chunk,
        "start": block.start.astimezone(UTC).isoformat(),
        "end": block.end.astimezone(UTC).isoformat(),
        "reason": block.reason,
        "fixed": block.fixed,
    }


def blocks_from_json(rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    """Stored blocks back as core Blocks (unreadable rows are skipped)."""
    out = []
    for row in rows:
        try:
            out.append(
                Block(
                    str(row["task_key"]),
                    int(row.get("chunk", 0)),
                    datetime.fromisoformat(row["start"]),
                    datetime.fromisoformat(row["end"]),
                    str(row.get("reason", "")),
                    bool(row.get("fixed", False)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out
