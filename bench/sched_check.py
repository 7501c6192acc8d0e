"""An independent check of a schedule for the benchmark, written apart from the solver.

It imports only the input and output dataclasses: no slot grid, no solver helpers, no
`almanac.scheduler.core.validator`. Everything is compared as instants (UTC) and local wall
clock (zoneinfo), so a discretisation or DST mistake in the solver shows up here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from almanac.scheduler.core import Problem, Schedule


def _u(when: datetime) -> datetime:
    return when.astimezone(UTC)


def limit_violations(problem: Problem, schedule: Schedule) -> list[str]:
    """Every broken hard rule, across all plans of the calendar."""
    out: list[str] = []
    tz = problem.tz
    tasks = {t.id: t for t in problem.tasks}
    blocks = sorted(schedule.blocks, key=lambda b: _u(b.start))
    new = [b for b in blocks if not b.fixed]
    for b in new:
        s, e = b.start.astimezone(tz), b.end.astimezone(tz)
        if _u(b.start) < _u(problem.now) or _u(b.end) > _u(problem.horizon_end):
            out.append(f"{b.task_id}: outside the horizon")
        if s.date() != (e - timedelta(microseconds=1)).date():
            out.append(f"{b.task_id}: crosses midnight")
            continue
        inside = any(
            w.weekday == s.weekday() and w.start <= s.time() and e.time() <= w.end
            for w in problem.working_hours
        )
        if not inside:
            out.append(f"{b.task_id}: outside working hours at {s:%a %H:%M}")
        for busy in problem.busy:
            if _u(b.start) < _u(busy.end) and _u(busy.start) < _u(b.end):
                out.append(f"{b.task_id}: overlaps a meeting at {s:%a %H:%M}")
        task = tasks.get(b.task_id)
        if task is None:
            out.append(f"{b.task_id}: unknown task")
            continue
        if task.earliest_start is not None and _u(b.start) < _u(task.earliest_start):
            out.append(f"{b.task_id}: before its earliest start")
        if task.hard_deadline and task.deadline is not None and _u(b.end) > _u(task.deadline):
            out.append(f"{b.task_id}: after its hard deadline")
    for a, b in zip(blocks, blocks[1:], strict=False):
        if _u(b.start) < _u(a.end):
            out.append(f"{a.task_id} and {b.task_id} overlap")
    per_day: dict[date, float] = defaultdict(float)
    per_week: dict[tuple[int, int], float] = defaultdict(float)
    per_task: dict[str, float] = defaultdict(float)
    for b in blocks:
        minutes = (_u(b.end) - _u(b.start)).total_seconds() / 60
        day = b.start.astimezone(tz).date()
        per_day[day] += minutes
        per_week[day.isocalendar()[:2]] += minutes
        per_task[b.task_id] += minutes
    if problem.daily_max_minutes is not None:
        for day, minutes in per_day.items():
            if minutes > problem.daily_max_minutes + 1e-6:
                out.append(f"{day}: {minutes / 60:g} h, above the daily maximum")
    if problem.weekly_capacity_hours is not None:
        for week, minutes in per_week.items():
            if minutes > problem.weekly_capacity_hours * 60 + 1e-6:
                out.append(f"week {week}: {minutes / 60:g} h, above the sprint capacity")
    ends: dict[str, datetime] = {}
    starts: dict[str, datetime] = {}
    for b in blocks:
        ends[b.task_id] = max(ends.get(b.task_id, _u(b.end)), _u(b.end))
        starts[b.task_id] = min(starts.get(b.task_id, _u(b.start)), _u(b.start))
    for tid, minutes in per_task.items():
        task = tasks.get(tid)
        if task is None:
            continue
        if minutes > task.duration_minutes + 1e-6:
            out.append(f"{tid}: {minutes:g} min placed for a {task.duration_minutes} min task")
        for dep in task.depends_on:
            if dep not in ends or per_task[dep] < tasks[dep].duration_minutes:
                out.append(f"{tid}: placed before its dependency {dep} is")
            elif starts[tid] < ends[dep]:
                out.append(f"{tid}: starts before {dep} ends")
    return out


def weighted_hours(problem: Problem, schedule: Schedule) -> float:
    priority = {t.id: t.priority for t in problem.tasks}
    return sum(
        (_u(b.end) - _u(b.start)).total_seconds() / 3600 * priority[b.task_id]
        for b in schedule.blocks
    )


def deadlines_met(problem: Problem, schedule: Schedule) -> tuple[int, int]:
    """(met, total) over tasks with a deadline inside the horizon."""
    placed: dict[str, float] = defaultdict(float)
    ends: dict[str, datetime] = {}
    for b in schedule.blocks:
        placed[b.task_id] += (_u(b.end) - _u(b.start)).total_seconds() / 60
        ends[b.task_id] = max(ends.get(b.task_id, _u(b.end)), _u(b.end))
    due = [
        t
        for t in problem.tasks
        if t.deadline is not None and _u(t.deadline) < _u(problem.horizon_end)
    ]
    met = sum(
        1
        for t in due
        if placed[t.id] >= t.duration_minutes and t.deadline and ends[t.id] <= _u(t.deadline)
    )
    return met, len(due)
