"""A replan's last search: the fewest moved blocks at no cost in what ranks above stability.

The objective prices a moved block (`Weights.moved_block`) against preferences, finishing
early and lateness points, so the best answer by it may move a block the change did not hit
for a better window or an earlier end, and a search stopped when idle may leave a move that
gained nothing. Here the answer's priority-weighted work, deadlines met, lateness points and
billable shortfall become bounds (never worse on any of them), the tasks away from its moves
stay where it put them, and one search from the answer itself looks for the most kept
blocks; if it keeps more, a second one finds the best by the objective among schedules that
keep as many (ARCHITECTURE.md, "Stability").
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder
from .floors import value
from .hints import Hint


def kept(builder: ModelBuilder, solver: cp_model.CpSolver) -> int:
    """Previous blocks a solved model keeps where they were."""
    return sum(solver.value(var) for tv in builder.tasks.values() for _, _, var in tv.same)


def keepable(builder: ModelBuilder) -> int:
    """Previous blocks of placeable tasks that the change left on free time."""
    free = builder.grid.free
    return sum(
        all(free[start : start + length])
        for tv in builder.tasks.values()
        for start, length in tv.plan.prev
    )


def has_previous(builder: ModelBuilder) -> bool:
    return any(tv.same for tv in builder.tasks.values())


def bound(builder: ModelBuilder, solver: cp_model.CpSolver) -> Hint:
    """Constrain the model to the solved answer's figures on everything above stability and
    fix the tasks away from its moves, aim it at the most kept blocks alone, and return the
    answer as the hint."""
    m, tasks = builder.model, list(builder.tasks.values())
    work = cp_model.LinearExpr.weighted_sum(
        [tv.placed for tv in tasks], [value(tv.plan) for tv in tasks]
    )
    m.add(work >= solver.value(work))
    missed = [tv.missed for tv in tasks if tv.missed is not None]
    if missed:
        met = len(missed) - cp_model.LinearExpr.sum(missed)
        m.add(met >= solver.value(met))
    late_vars, late_coefs = [], []
    for tv in tasks:
        if tv.late is not None:
            _, cap, late, over = tv.late
            per_slot = builder.grid.problem.weights.soft_late * tv.plan.task.priority
            late_vars += [late, over]
            late_coefs += [per_slot, cap * per_slot]  # `over` costs about the cap
    if late_vars:
        lateness = cp_model.LinearExpr.weighted_sum(late_vars, late_coefs)
        m.add(lateness <= solver.value(lateness))
    for _, short in builder.shortfall.values():
        m.add(short <= solver.value(short))
    _fix_outside(builder, solver)
    same = [var for tv in tasks for _, _, var in tv.same]
    # Kept blocks alone: with no other term, CP-SAT proves the fewest within tenths of a
    # second where the whole objective took it seconds (`polish` then orders the rest).
    m.maximize(cp_model.LinearExpr.sum(same))
    return assignment(builder, solver)


def polish(builder: ModelBuilder, solver: cp_model.CpSolver) -> Hint:
    """Keep at least the blocks the solved model keeps, aim the model at the objective again,
    and return the solved assignment as its hint (the best by the objective among schedules
    with that few moves)."""
    same = [var for tv in builder.tasks.values() for _, _, var in tv.same]
    builder.model.add(cp_model.LinearExpr.sum(same) >= kept(builder, solver))
    builder.refresh_objective()
    return assignment(builder, solver)


def assignment(builder: ModelBuilder, solver: cp_model.CpSolver) -> Hint:
    """Every variable's value in a solved model."""
    m, hint = builder.model, {}
    for index in range(len(m.proto.variables)):
        var = m.get_int_var_from_proto_index(index)
        hint[index] = (var, int(solver.value(var)))
    return hint


def _fix_outside(builder: ModelBuilder, solver: cp_model.CpSolver) -> None:
    """Fix every task outside the moves' neighbourhood where the answer put it: the tasks
    that moved a block, their dependencies and dependants, and every task with work on a day
    a moved block left or took (what can make room, or take room back). A few days of the
    calendar instead of all of it: this search has what time the first one left."""
    grid, tasks = builder.grid, builder.tasks
    placed = {
        tid: [
            (int(solver.value(c.start)), int(solver.value(c.size)))
            for c in tv.chunks
            if solver.boolean_value(c.present)
        ]
        for tid, tv in tasks.items()
    }
    moved = {
        tid for tid, tv in tasks.items() if tv.plan.prev and sorted(placed[tid]) != tv.plan.prev
    }
    days = {grid.day_of[s] for tid in moved for s, _ in (*tasks[tid].plan.prev, *placed[tid])}
    free = set(moved)
    for tid in moved:
        free.update(d for d in tasks[tid].plan.task.depends_on if d in tasks)
    free.update(tid for tid, tv in tasks.items() if moved & set(tv.plan.task.depends_on))
    free.update(
        tid for tid, chunks in placed.items() if any(grid.day_of[s] in days for s, _ in chunks)
    )
    m = builder.model
    for tid, tv in tasks.items():
        if tid in free:
            continue
        m.add(tv.placed == int(solver.value(tv.placed)))
        for chunk in tv.chunks:
            present = int(solver.value(chunk.present))
            m.add(chunk.present == present)
            if present:
                m.add(chunk.start == int(solver.value(chunk.start)))
                if not isinstance(chunk.size, int):
                    m.add(chunk.size == int(solver.value(chunk.size)))
