"""How many of a replan's moves could go: the fewest moves at no cost above stability.

Usage: .venv/bin/python bench/sched_headroom.py [--seeds 1,303] [--seconds 6]

For each two-week instance: the first schedule, the benchmark's replan (three one-hour
meetings on placed blocks, `sched_multi.with_meetings`), then one long CP-SAT search of the
same model that maximises kept blocks alone, bounded by the replan answer's priority-weighted
work, deadlines met, lateness points and billable shortfall (never worse on any), hinted with
the answer. It prints per instance the blocks, the answer's moves and hits, and the fewest
moves found (with the search's status: OPTIMAL means no schedule moves fewer), then how many
replans are already at the fewest and the moves that could go in all. A large gap says the
search leaves stability on the table; a small one, that the moves are what the hours and
deadlines cost (lowering them means trading those, which the objective ranks higher).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sched_instances as inst  # noqa: E402
import sched_multi  # noqa: E402

from almanac.scheduler.core import Problem, Schedule, solve  # noqa: E402
from almanac.scheduler.core.cpsat_model import ModelBuilder  # noqa: E402
from almanac.scheduler.core.floors import measure, value  # noqa: E402
from almanac.scheduler.core.grid import build_grid  # noqa: E402
from almanac.scheduler.core.hints import hint_values  # noqa: E402


def fewest_moves(changed: Problem, answer: Schedule, seconds: float) -> tuple[int, str]:
    """The fewest moved blocks found at the answer's figures above stability, and the
    search's status."""
    grid = build_grid(changed)
    # The answer's blocks as a placement: a grid whose previous schedule is the answer.
    placement = {
        tid: plan.prev
        for tid, plan in build_grid(replace(changed, previous=answer.blocks)).plans.items()
        if plan.prev and tid in grid.plans
    }
    builder = ModelBuilder(grid)
    builder.build()
    m, tasks = builder.model, list(builder.tasks.values())
    values = hint_values(builder, placement)
    m.add(
        cp_model.LinearExpr.weighted_sum(
            [tv.placed for tv in tasks], [value(tv.plan) for tv in tasks]
        )
        >= measure(grid, placement).work
    )
    missed = [tv.missed for tv in tasks if tv.missed is not None]
    if missed:
        met = sum(1 - values[v.index][1] for v in missed)
        m.add(len(missed) - cp_model.LinearExpr.sum(missed) >= met)
    late, coefs = [], []
    for tv in tasks:
        if tv.late is not None:
            _, cap, slots, over = tv.late
            per_slot = changed.weights.soft_late * tv.plan.task.priority
            late += [slots, over]
            coefs += [per_slot, cap * per_slot]
    if late:
        m.add(
            cp_model.LinearExpr.weighted_sum(late, coefs)
            <= sum(c * values[v.index][1] for v, c in zip(late, coefs, strict=True))
        )
    for _, short in builder.shortfall.values():
        m.add(short <= values[short.index][1])
    same = [var for tv in tasks for _, _, var in tv.same]
    m.maximize(cp_model.LinearExpr.sum(same))
    for var, val in values.values():
        m.add_hint(var, val)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 2
    status = solver.solve(m)
    blocks = sum(len(plan.prev) for plan in grid.plans.values())
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return -1, solver.status_name(status)
    return blocks - int(solver.objective_value), solver.status_name(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,303", help="first seeds, comma-separated")
    parser.add_argument("--seconds", type=float, default=6.0, help="per fewest-moves search")
    args = parser.parse_args()
    at_fewest = total = could_go = 0
    for seed in (int(s) for s in args.seeds.split(",")):
        for spec in inst.specs(False, seed):
            if spec.weeks != 2:
                continue
            problem = inst.make(spec)
            first = solve(problem)
            changed, meetings = sched_multi.with_meetings(problem, first, spec.seed)
            answer = solve(changed)
            kept = {(b.task_id, b.start, b.end) for b in answer.blocks}
            movable = [b for b in first.blocks if not b.fixed]
            moved = sum((b.task_id, b.start, b.end) not in kept for b in movable)
            hit = sum(any(b.start < x.end and x.start < b.end for x in meetings) for b in movable)
            fewest, status = fewest_moves(changed, answer, args.seconds)
            print(
                f"{spec.name}: {moved}/{len(movable)} moved, {hit} hit ({answer.source}); "
                f"fewest found {fewest} ({status})",
                flush=True,
            )
            if fewest >= 0:
                total += 1
                at_fewest += fewest >= moved
                could_go += max(0, moved - fewest)
    print(f"{at_fewest} of {total} replans at the fewest moves found; {could_go} moves could go")


if __name__ == "__main__":
    main()
