"""Solve with CP-SAT, warm-started from greedy placements; fall back to greedy if needed."""

from __future__ import annotations

import time
from collections import defaultdict

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder
from .explain import Placement, assemble
from .greedy import greedy_placement
from .grid import Week, build_grid
from .model import Problem, Schedule, SolveStatus
from .selection import select_tasks

# Left for turning the solution into blocks, so the whole call stays within the time limit.
_MARGIN_SECONDS = 0.05
# Share of the time limit the task-selection knapsack may use (it usually needs far less).
_SELECTION_SHARE = 0.1

Hint = dict[int, tuple[cp_model.IntVar, int]]  # variable index -> (variable, value)


def solve(problem: Problem) -> Schedule:
    """Schedule `problem` with CP-SAT within `problem.time_limit_seconds` (model build included).

    Two greedy placements are candidate hints, both keeping the previous schedule's blocks
    that still fit: plain earliest-deadline-first, and the same greedy placing first the tasks
    a small knapsack model selects when demand exceeds capacity. The one scoring better on the
    full objective becomes the solver's hint (`AddHint` on every decision variable). If CP-SAT
    finds no solution in time, that greedy placement is returned, with status GREEDY_FALLBACK.
    """
    started = time.perf_counter()
    grid = build_grid(problem)
    candidates = [greedy_placement(grid)]
    chosen = select_tasks(grid, problem.time_limit_seconds * _SELECTION_SHARE)
    if chosen and chosen != set(candidates[0][0]):
        candidates.append(greedy_placement(grid, first=chosen))
    builder = ModelBuilder(grid)
    builder.build()
    values = [hint_values(builder, placement) for placement, _ in candidates]
    # Never place less priority-weighted work than plain greedy: the other terms (billable
    # share, preferences, stability) may trade among placements, not against the work itself.
    floor = weighted_work(builder, values[0])
    builder.model.add(
        sum(tv.plan.task.priority * tv.plan.remaining * tv.placed for tv in builder.tasks.values())
        >= floor
    )
    feasible = [n for n in range(len(candidates)) if weighted_work(builder, values[n]) >= floor]
    best = max(feasible, key=lambda n: objective_of(builder, values[n]))
    hint, causes = candidates[best]
    for var, value in values[best].values():
        builder.model.add_hint(var, value)
    solver = cp_model.CpSolver()
    left = problem.time_limit_seconds - (time.perf_counter() - started) - _MARGIN_SECONDS
    solver.parameters.max_time_in_seconds = max(0.05, left)
    solver.parameters.num_workers = problem.num_workers
    solver.parameters.random_seed = problem.random_seed
    status = solver.solve(builder.model)
    name = solver.status_name(status)
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"invalid CP-SAT model: {builder.model.validate()}")
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        scale = builder.scale
        return assemble(
            grid,
            builder.extract(solver),
            {},
            SolveStatus.OPTIMAL if status == cp_model.OPTIMAL else SolveStatus.FEASIBLE,
            wall_time=time.perf_counter() - started,
            objective=solver.objective_value / scale,
            bound=solver.best_objective_bound / scale,
            solver_status=name,
        )
    return assemble(
        grid,
        hint,
        causes,
        SolveStatus.GREEDY_FALLBACK,
        wall_time=time.perf_counter() - started,
        solver_status=name,
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
            for d, on, amount in cv.days:
                if on is not None:
                    put(on, d == day)
                if amount is not None:
                    put(amount, length if d == day else 0)
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
        for k, same in tv.same:
            put(same, k < len(chunks) and chunks[k] == tv.plan.prev[k])
    for week, (target, short) in builder.shortfall.items():
        put(short, min(target, max(0, target - 100 * billable[week])))
    return out
