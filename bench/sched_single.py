"""The single-calendar part of the scheduler benchmark: one generated calendar, two solvers.

Instances (seeded) put 50, 100 or 150 tasks into two working weeks (Mon-Fri 09:00-17:30,
Europe/London, 15-minute slots) around about 25 meetings, with demand below and above the
free capacity. Used by `scheduler_bench.py`; the measures here are the benchmark's own.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import sched_check as check

from almanac.scheduler.core import (
    Interval,
    PreferredWindow,
    Problem,
    Schedule,
    Task,
    greedy_schedule,
    solve,
    validate,
)
from almanac.scheduler.core.grid import build_grid

TZ = ZoneInfo("Europe/London")
MONDAY = datetime(2025, 6, 2, tzinfo=TZ)
TIME_LIMIT = 2.5  # seconds per CP-SAT call, model building included


def _meetings(rng: random.Random, count: int, first_day: int = 0) -> list[Interval]:
    out = []
    for _ in range(count):
        day = rng.choice([d for d in range(first_day, 12) if d % 7 < 5])
        start = MONDAY + timedelta(days=day, hours=9, minutes=30 * rng.randrange(16))
        minutes = rng.choice([30, 30, 45, 60, 60, 90])
        out.append(Interval(start, start + timedelta(minutes=minutes)))
    return out


def capacity_minutes(problem: Problem) -> int:
    """Free working minutes in the horizon, capped per day and per week like the solvers."""
    grid = build_grid(replace(problem, tasks=()))
    per_day = [0] * len(grid.days)
    for i, free in enumerate(grid.free):
        if free:
            per_day[grid.day_of[i]] += 1
    weeks: dict[tuple[int, int], int] = {}
    for d, day in enumerate(grid.days):
        cap = per_day[d] if grid.day_cap is None else min(per_day[d], grid.day_cap[d])
        weeks[day.week] = weeks.get(day.week, 0) + cap
    if grid.week_cap is not None:
        weeks = {w: min(v, grid.week_cap.get(w, 0)) for w, v in weeks.items()}
    return sum(weeks.values()) * problem.slot_minutes


def make_instance(n_tasks: int, load: float, seed: int) -> Problem:
    """`load` is total task demand over the free capacity (below 1: everything can fit)."""
    rng = random.Random(seed * 1000 + n_tasks)
    now = MONDAY + timedelta(hours=8)
    base = Problem(
        tasks=(),
        now=now,
        horizon_start=now,
        horizon_end=MONDAY + timedelta(days=14),
        timezone="Europe/London",
        busy=tuple(_meetings(rng, 25)),
        preferred_windows=tuple(
            PreferredWindow(d, clock(9), clock(12), 10, "deep") for d in range(5)
        ),
        buffer_minutes=0,
        daily_max_minutes=7 * 60,
        weekly_capacity_hours=32,
        billable_share_target=0.6 if seed % 2 else None,
        frozen_hours=1,
        time_limit_seconds=TIME_LIMIT,
    )
    raw = [rng.lognormvariate(0, 0.7) for _ in range(n_tasks)]
    scale = load * capacity_minutes(base) / sum(raw)
    tasks: list[Task] = []
    for i, r in enumerate(raw):
        minutes = int(min(240, max(15, round(r * scale / 15) * 15)))
        splittable = minutes >= 90 and rng.random() < 0.4
        deadline, hard = None, False
        roll = rng.random()
        if roll < 0.6:
            day = rng.choice([d for d in range(1, 12) if d % 7 < 5])
            deadline = MONDAY + timedelta(days=day, hours=17)
            hard = roll < 0.3
        deps: tuple[str, ...] = ()
        if i and rng.random() < 0.2:
            deps = (f"t{rng.randrange(max(0, i - 10), i)}",)
        earliest = None
        if rng.random() < 0.1:
            earliest = MONDAY + timedelta(days=rng.choice([1, 2, 3, 7, 8]), hours=9)
            if deadline is not None and deadline <= earliest:
                deadline, hard = None, False
        tasks.append(
            Task(
                f"t{i}",
                f"task {i}",
                minutes,
                priority=rng.randint(1, 5),
                splittable=splittable,
                min_chunk_minutes=60 if splittable else None,
                max_chunk_minutes=120 if splittable else None,
                earliest_start=earliest,
                deadline=deadline,
                hard_deadline=hard,
                depends_on=deps,
                billable=rng.random() < 0.4,
                tags=("deep",) if rng.random() < 0.3 else (),
            )
        )
    return replace(base, tasks=tuple(tasks))


def weighted_hours(problem: Problem, schedule: Schedule) -> float:
    priority = {t.id: t.priority for t in problem.tasks}
    return sum(b.minutes / 60 * priority[b.task_id] for b in schedule.blocks)


def deadlines_missed(problem: Problem, schedule: Schedule) -> int:
    ends: dict[str, datetime] = {}
    placed: dict[str, float] = {}
    for b in schedule.blocks:
        ends[b.task_id] = max(ends.get(b.task_id, b.end), b.end)
        placed[b.task_id] = placed.get(b.task_id, 0) + b.minutes
    return sum(
        1
        for t in problem.tasks
        if t.deadline is not None
        and (placed.get(t.id, 0) < t.duration_minutes or ends[t.id] > t.deadline)
    )


def run_solver(problem: Problem, which: str) -> tuple[Schedule, float]:
    started = time.perf_counter()
    if which == "cp-sat":
        schedule = solve(problem)
    else:  # "edf": earliest deadline first (the first baseline); "priority": highest first
        schedule = greedy_schedule(problem, which)
    return schedule, time.perf_counter() - started


def moved_share(before: Schedule, after: Schedule) -> float:
    keep = {(b.task_id, b.start, b.end) for b in after.blocks}
    movable = [b for b in before.blocks if not b.fixed]
    moved = sum(1 for b in movable if (b.task_id, b.start, b.end) not in keep)
    return moved / max(1, len(movable))


def replan(problem: Problem, which: str, seed: int) -> dict[str, Any]:
    """Three new one-hour meetings, each on top of a placed block from Tuesday on."""
    first, _ = run_solver(problem, which)
    rng = random.Random(seed)
    later = [b for b in first.blocks if not b.fixed and b.start >= MONDAY + timedelta(days=1)]
    meetings = tuple(
        Interval(b.start, b.start + timedelta(hours=1))
        for b in rng.sample(later, min(3, len(later)))
    )
    changed = replace(problem, busy=problem.busy + meetings)
    stable, _ = run_solver(replace(changed, previous=first.blocks), which)
    fresh, _ = run_solver(changed, which)
    hit = sum(
        1
        for b in first.blocks
        if not b.fixed and any(b.start < m.end and m.start < b.end for m in meetings)
    )
    return {
        "blocks": sum(1 for b in first.blocks if not b.fixed),
        "blocks_hit": hit,
        "moved_with_stability": moved_share(first, stable),
        "moved_from_scratch": moved_share(first, fresh),
        # The solver's own validator and the independent one (sched_check.py), both schedules.
        "violations": sum(
            len(validate(changed, s)) + len(check.limit_violations(changed, s))
            for s in (stable, fresh)
        ),
    }
