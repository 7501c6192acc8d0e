"""The simple baselines of a solve: CP-SAT's hints and fallbacks, and the floors it keeps.

EDF, a priority-first greedy and a textbook EDF (each task by its own deadline); mixes of
their merits; on a calendar with blocks, the same over the whole calendar afresh; one built by
local moves to reach both floors when none of them does (`floor_hint`); and when replanning,
repairs of the previous schedule (`repair_greedy`).
"""

from __future__ import annotations

import time
from collections.abc import Set

from . import floor_hint as fh
from . import floors as fl
from . import repair_greedy as rg
from .explain import Placement
from .greedy import greedy_placement
from .grid import Grid
from .model import UnplacedCause
from .selection import select_tasks

# Share of the time limit the task-selection knapsack may use (it usually needs far less).
_SELECTION_SHARE = 0.1
_SELECTION_MAX_SECONDS = 0.15

Candidate = tuple[Placement, dict[str, tuple[UnplacedCause, str]]]


def candidates(
    grid: Grid,
    time_limit: float,
    kept: Set[str] = frozenset(),
    followers: Set[str] = frozenset(),
    waiting: Set[str] = frozenset(),
) -> dict[str, Candidate]:
    """The baseline placements, by name: the two simple ones, mixes of their merits and,
    when none of these reaches both floors, one built to (`floor_hint`); and when replanning
    (`kept`, `followers`: see `repair`), repairs of the previous schedule without the
    `waiting` work (see `repair_greedy.fill`)."""
    out = {
        "edf": greedy_placement(grid),
        "greedy": greedy_placement(grid, by_priority=True),
        "edf-own": greedy_placement(grid, own_deadlines=True),
    }
    chosen = select_tasks(grid, min(time_limit * _SELECTION_SHARE, _SELECTION_MAX_SECONDS))
    if chosen and chosen != set(out["edf"][0]):
        out["selected"] = greedy_placement(grid, first=chosen)
    # EDF's on-time tasks first, then the rest (most urgent, or highest priority, first); and
    # greedy's choice of tasks placed most urgent first: often both baselines' merits at once.
    on_time = {tid for tid in out["edf"][0] if _on_time(grid, tid, out["edf"][0])}
    if on_time:
        first = on_time | rg.ancestors(grid, on_time)
        out["combined"] = greedy_placement(grid, first=first)
        out["combined-priority"] = greedy_placement(grid, first=first, then_by_priority=True)
    if out["greedy"][0]:
        out["greedy-edf"] = greedy_placement(grid, first=set(out["greedy"][0]))
    if not kept and any(plan.prev for plan in grid.plans.values()):
        # The plain baselines plan the whole calendar at once, ignoring where blocks were
        # (the ones above keep them where they still fit): a re-optimisation is never worse.
        out["edf-plain"] = greedy_placement(grid, fresh=True)
        out["greedy-plain"] = greedy_placement(grid, by_priority=True, fresh=True)
        out["edf-own-plain"] = greedy_placement(grid, fresh=True, own_deadlines=True)
    if not kept:  # none of these reaching both floors: local moves may build one that does
        fh.add_hint(grid, out, time_limit, time.perf_counter)
    if kept:
        out["repair"] = (rg.repair_placement(grid, kept, False, followers, waiting), {})
        out["repair-priority"] = (rg.repair_placement(grid, kept, True, followers, waiting), {})
    return out


def plain_floors(grid: Grid) -> fl.Floors:
    """The floors of the plain baselines: every plan at once, where blocks were ignored."""
    plain = {
        name: fl.measure(
            grid, greedy_placement(grid, by_priority=priority, fresh=True, own_deadlines=own)[0]
        )
        for name, priority, own in (
            ("edf", False, False),
            ("greedy", True, False),
            ("edf-own", False, True),
        )
    }
    return fl.floors_of(plain, valued=grid.problem.weights.missed_deadline > 0)


def _on_time(grid: Grid, tid: str, placement: Placement) -> bool:
    plan, chunks = grid.plans[tid], placement[tid]
    deadline = plan.soft_deadline if plan.soft_deadline is not None else plan.hi
    return chunks[-1][0] + chunks[-1][1] <= deadline and plan.deadline_in(grid.size)
