"""Multi-plan scheduling instances for the benchmark: several clients at once, real weeks.

Each instance is a consultant's calendar: 3-8 plans (one per client, plus internal work),
each a short chain of tasks with its own priority and deadline, meetings spread over the
weeks, a daily maximum, a weekly sprint capacity and sometimes a billable target. Start
Mondays are chosen so that a clock change (Europe/Berlin or America/New_York) falls inside
the horizon. Task ids are "p<plan>/<key>", as the service builds them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from almanac.scheduler.core import Interval, PreferredWindow, Problem, Task

# Mondays whose two weeks contain a clock change in the zone.
DST_MONDAYS = {
    "Europe/Berlin": (date(2026, 3, 23), date(2026, 10, 19)),
    "America/New_York": (date(2026, 3, 2), date(2026, 10, 26)),
}


@dataclass(frozen=True)
class Spec:
    name: str
    tz: str
    monday: date
    weeks: int
    tasks: int
    load: float  # demand over free capacity
    seed: int
    daily_max_hours: float = 8.0
    weekly_hours: float | None = 32.0
    billable_share: float | None = None
    time_limit: float = 3.0


def _meetings(rng: random.Random, tz: ZoneInfo, monday: date, weeks: int) -> list[Interval]:
    out = []
    for day in range(weeks * 7):
        when = monday + timedelta(days=day)
        if when.weekday() >= 5:
            continue
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            start = datetime.combine(when, time(9), tzinfo=tz) + timedelta(
                minutes=30 * rng.randrange(16)
            )
            out.append(Interval(start, start + timedelta(minutes=rng.choice([30, 45, 60, 90]))))
    return out


def free_minutes(spec: Spec, busy: list[Interval]) -> float:
    """Working minutes left after meetings, capped by the daily maximum and weekly hours."""
    tz = ZoneInfo(spec.tz)
    weeks: dict[int, float] = {}
    for day in range(spec.weeks * 7):
        when = spec.monday + timedelta(days=day)
        if when.weekday() >= 5:
            continue
        lo = datetime.combine(when, time(9), tzinfo=tz)
        hi = datetime.combine(when, time(17, 30), tzinfo=tz)
        taken = sum(
            max(0.0, (min(hi, b.end) - max(lo, b.start)).total_seconds() / 60) for b in busy
        )
        free = min(510 - taken, spec.daily_max_hours * 60)
        weeks[day // 7] = weeks.get(day // 7, 0) + free
    cap = spec.weekly_hours
    return sum(min(v, cap * 60) if cap else v for v in weeks.values())


def make(spec: Spec) -> Problem:
    """The instance for `spec` (deterministic in its seed)."""
    rng = random.Random(spec.seed)
    tz = ZoneInfo(spec.tz)
    start = datetime.combine(spec.monday, time(8), tzinfo=tz)
    end = datetime.combine(spec.monday + timedelta(days=7 * spec.weeks), time(0), tzinfo=tz)
    busy = _meetings(rng, tz, spec.monday, spec.weeks)
    plans = max(3, min(8, spec.tasks // 8))
    sizes = [spec.tasks // plans + (1 if p < spec.tasks % plans else 0) for p in range(plans)]
    raw = [[rng.lognormvariate(0, 0.6) for _ in range(n)] for n in sizes]
    scale = spec.load * free_minutes(spec, busy) / sum(sum(r) for r in raw)
    workdays = [
        spec.monday + timedelta(days=d)
        for d in range(1, 7 * spec.weeks)
        if (spec.monday + timedelta(days=d)).weekday() < 5
    ]
    tasks: list[Task] = []
    for p, weights in enumerate(raw):
        priority = rng.randint(1, 4)
        billable = p < plans - 1  # the last plan is internal work
        due = rng.choice(workdays[len(workdays) // 3 :])
        plan_deadline = datetime.combine(due, time(17), tzinfo=tz)
        hard_plan = rng.random() < 0.25
        for i, w in enumerate(weights):
            minutes = int(min(360, max(30, round(w * scale / 15) * 15)))
            deadline = None
            hard = False
            if rng.random() < 0.7:
                # Tasks due in order towards the plan's deadline.
                frac = (i + 1) / len(weights)
                days = max(1, round(frac * (due - spec.monday).days))
                day = spec.monday + timedelta(days=days)
                while day.weekday() >= 5:
                    day += timedelta(days=1)
                deadline = min(plan_deadline, datetime.combine(day, time(17), tzinfo=tz))
                hard = hard_plan and i == len(weights) - 1
            deps = (f"p{p}/t{i - 1}",) if i and rng.random() < 0.5 else ()
            tasks.append(
                Task(
                    f"p{p}/t{i}",
                    f"plan {p} task {i}",
                    minutes,
                    priority=max(1, min(4, priority + rng.choice([-1, 0, 0, 1]))),
                    splittable=minutes > 120,
                    min_chunk_minutes=30 if minutes > 120 else None,
                    max_chunk_minutes=120 if minutes > 120 else None,
                    deadline=deadline,
                    hard_deadline=hard,
                    depends_on=deps,
                    billable=billable,
                    tags=("deep",) if rng.random() < 0.3 else (),
                )
            )
    return Problem(
        tasks=tuple(tasks),
        now=start,
        horizon_start=start,
        horizon_end=end,
        timezone=spec.tz,
        busy=tuple(busy),
        preferred_windows=tuple(PreferredWindow(d, time(9), time(12), 5, "deep") for d in range(5)),
        daily_max_minutes=int(spec.daily_max_hours * 60),
        weekly_capacity_hours=spec.weekly_hours,
        billable_share_target=spec.billable_share,
        frozen_hours=0,
        time_limit_seconds=spec.time_limit,
    )


def specs(quick: bool, first_seed: int = 1) -> list[Spec]:
    """The benchmark's instances: two-week DST windows in both zones, and six-week loads.

    `first_seed` other than 1 gives fresh instances of the same kinds (names end in @seed).
    """
    out = []
    seed = first_seed
    tag = "" if first_seed == 1 else f"@{first_seed}"
    for tz, mondays in DST_MONDAYS.items():
        for monday in mondays:
            for load in (0.8, 1.3):
                out.append(
                    Spec(
                        f"{tz.split('/')[1][:6]}-{monday:%m%d}-{load}{tag}",
                        tz,
                        monday,
                        2,
                        50,
                        load,
                        seed,
                        daily_max_hours=8.0 if seed % 2 else 7.0,
                        billable_share=0.6 if seed % 3 == 0 else None,
                        weekly_hours=None if tag and seed % 4 == 0 else 32.0,
                    )
                )
                seed += 1
    big = [("Europe/Berlin", date(2026, 10, 5)), ("America/New_York", date(2026, 10, 12))]
    for tz, monday in big if not quick else big[:1]:
        name = f"six-weeks-{tz.split('/')[1][:6]}{tag}"
        out.append(Spec(name, tz, monday, 6, 300, 1.1, seed))
        seed += 1
    return out[:3] + out[-1:] if quick else out
