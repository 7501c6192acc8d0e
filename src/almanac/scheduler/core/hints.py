"""Complete solver assignments from placements: CP-SAT's hints, and their objective value."""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder
from .explain import Placement
from .grid import Week

Hint = dict[int, tuple[cp_model.IntVar, int]]  # variable index -> (variable, value)


def deadlines_met(builder: ModelBuilder, values: Hint) -> int:
    """Tasks with a deadline in the horizon that an assignment finishes on time."""
    return sum(
        1 - values[tv.missed.index][1] for tv in builder.tasks.values() if tv.missed is not None
    )


def objective_of(builder: ModelBuilder, values: Hint) -> int:
    """The model's objective (scaled) for a complete assignment of its objective variables."""
    total = builder.constant * builder.scale
    for coef, var in builder.terms:
        total += coef * values[var.index][1]
    return total - sum(values[tv.end.index][1] for tv in builder.tasks.values())


def weighted_work(builder: ModelBuilder, values: Hint) -> int:
    """Priority-weighted slots placed by an assignment (what greedy must never beat)."""
    return sum(
        tv.plan.task.priority * tv.plan.remaining * values[tv.placed.index][1]
        for tv in builder.tasks.values()
    )


def hint_values(builder: ModelBuilder, placement: Placement) -> Hint:
    """A value for every decision variable, so a feasible placement is a complete solution."""
    grid = builder.grid
    out: Hint = {}

    def put(var: cp_model.IntVar, value: int | bool) -> None:
        out[var.index] = (var, int(value))

    billable: dict[Week, int] = defaultdict(int)
    for tid, tv in builder.tasks.items():
        chunks = placement.get(tid, [])
        put(tv.placed, bool(chunks))
        end = chunks[-1][0] + chunks[-1][1] if chunks else 0
        put(tv.end, end)
        for k, cv in enumerate(tv.chunks):
            start, length = chunks[k] if k < len(chunks) else (cv.starts[0], 0)
            if cv.present is not tv.placed:
                put(cv.present, length > 0)
            put(cv.start, start)
            if not isinstance(cv.size, int):
                put(cv.size, length)
            if isinstance(cv.end, cp_model.IntVar):
                put(cv.end, start + length)
            day = grid.day_of[start] if length else -1
            for ds, on, amount in cv.days:
                if on is not None:
                    put(on, day in ds)
                if amount is not None:
                    put(amount, length if day in ds else 0)
            if length and tv.plan.task.billable and day >= 0:
                billable[grid.days[day].week] += length
            inside = [
                n
                for n, _, _ in cv.windows
                if length and grid.windows[n].lo <= start and start + length <= grid.windows[n].hi
            ]
            best = max(inside, key=lambda n: grid.windows[n].weight, default=None)
            for n, flag, reward in cv.windows:
                put(flag, n == best)
                if reward is not None:
                    put(reward, length if n == best else 0)
        if tv.missed is not None:
            plan_deadline = tv.plan.soft_deadline
            put(tv.missed, not chunks or (plan_deadline is not None and end > plan_deadline))
        if tv.late is not None:
            deadline, most, late, over = tv.late
            lateness = max(0, end - deadline) if chunks else 0
            put(over, lateness > most)
            put(late, lateness if lateness <= most else 0)
        for j, k, same in tv.same:
            put(same, k < len(chunks) and chunks[k] == tv.plan.prev[j])
    for week, (target, short) in builder.shortfall.items():
        put(short, min(target, max(0, target - 100 * billable[week])))
    return out
