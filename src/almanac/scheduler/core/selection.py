"""Which tasks to place when there is not room for all: a small CP-SAT knapsack.

Time is aggregated: for every window [a, b) between a task's earliest slot and its latest end,
the work that must fit inside it cannot exceed the free slots there (capped by the daily and
weekly limits). A chunk also costs its buffer. The answer is a relaxation: it can select more
than fits once fragmentation is counted, and the greedy pass placing the selected tasks first
then simply leaves the rest out. It exists because the full model, warm-started from plain
earliest-deadline-first, spends its whole time limit swapping low-priority work out.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from .grid import Grid, TaskPlan


def select_tasks(grid: Grid, time_limit: float) -> set[str]:
    """Task ids worth placing, chosen by priority-weighted work under aggregate capacity."""
    plans = {tid: p for tid, p in grid.plans.items() if p.cause is None}
    if not plans:
        return set()
    room = _Room(grid)
    cost = {tid: p.remaining + grid.buffer_slots * p.min_chunks for tid, p in plans.items()}
    if sum(cost.values()) <= room.between(0, grid.size):
        return set(plans)
    m = cp_model.CpModel()
    pick = {tid: m.new_bool_var(tid) for tid in plans}
    for a in sorted({p.lo for p in plans.values()}):
        for b in sorted({p.hi for p in plans.values()}):
            inside = [t for t, p in plans.items() if p.lo >= a and p.hi <= b]
            if b <= a or not inside:
                continue
            free = room.between(a, b)
            if sum(cost[t] for t in inside) > free:
                m.add(
                    cp_model.LinearExpr.weighted_sum(
                        [pick[t] for t in inside], [cost[t] for t in inside]
                    )
                    <= free
                )
    for tid, plan in plans.items():
        for dep in plan.task.depends_on:
            if dep in pick:
                m.add_implication(pick[tid], pick[dep])
            elif dep in grid.plans:
                m.add(pick[tid] == 0)
    m.maximize(
        cp_model.LinearExpr.weighted_sum(
            list(pick.values()), [_value(plans[t], grid) for t in pick]
        )
    )
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = grid.problem.num_workers
    solver.parameters.random_seed = grid.problem.random_seed
    try:
        status = solver.solve(m)
    except (IndexError, RuntimeError):  # a crash inside OR-Tools (see `search._solve`)
        return set()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return set()
    return {tid for tid, var in pick.items() if solver.boolean_value(var)}


def _value(plan: TaskPlan, grid: Grid) -> int:
    """The task's worth in the full objective's points, lateness aside."""
    weights = grid.problem.weights
    value = weights.place * plan.task.priority * plan.remaining
    if plan.deadline_in(grid.size):
        value += weights.missed_deadline * plan.task.priority
    return value


class _Room:
    """Free slots in a span, each day capped by the daily maximum and each week by capacity."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.prefix = [0]
        for free in grid.free:
            self.prefix.append(self.prefix[-1] + int(free))

    def between(self, a: int, b: int) -> int:
        grid = self.grid
        weeks: dict[tuple[int, int], int] = {}
        for d, day in enumerate(grid.days):
            lo, hi = max(a, day.lo), min(b, day.hi)
            if lo >= hi:
                continue
            free = self.prefix[hi] - self.prefix[lo]
            if grid.day_cap is not None:
                free = min(free, grid.day_cap[d])
            weeks[day.week] = weeks.get(day.week, 0) + free
        if grid.week_cap is not None:
            return sum(min(v, grid.week_cap.get(w, 0)) for w, v in weeks.items())
        return sum(weeks.values())
