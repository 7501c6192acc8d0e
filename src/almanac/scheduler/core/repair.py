"""Replanning as a repair: keep every previous block the change did not break.

A replan after a few new meetings should move the blocks they hit and what must follow
them, not re-optimise the whole calendar for small gains. `kept_tasks` finds the tasks whose
previous blocks are still valid as they were (free slots, their window, chunk bounds, the
daily and weekly limits on their own, and dependencies that are themselves kept); the
others, with every task depending on them and every task that had no blocks, form the
repair's neighbourhood. `Holds` gives each kept task a switch that holds it to its previous
blocks (or leaves it out); `repair_placement` places the neighbourhood greedily around the
kept blocks, each task where it was whenever that still fits. A placement holding every kept
task is a repair; `cpsat.solve` searches among repairs when one reaches both floors (and
widens a repair only for a real gain in hours or deadlines), and otherwise holds whatever
the placement it starts from held (see ARCHITECTURE.md, "Stability").
"""

from __future__ import annotations

from collections.abc import Set

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder
from .explain import Placement
from .greedy import placement_order
from .greedy_state import State
from .grid import Grid


def kept_tasks(grid: Grid) -> set[str]:
    """Tasks whose previous blocks a replan keeps exactly (empty when there are none)."""
    empty = State(grid)
    valid = set()
    for tid, plan in grid.plans.items():
        if plan.cause is not None or not plan.prev:
            continue
        if empty.keep_previous(plan, plan.lo, empty.free_runs(plan)) is not None:
            valid.add(tid)
    kept: set[str] = set()
    for tid in grid.topo:  # dependencies first: a task is kept only after all of its own
        if tid not in valid:
            continue
        plan = grid.plans[tid]
        start = plan.prev[0][0]
        ok = True
        for dep in plan.task.depends_on:
            dep_plan = grid.plans.get(dep)
            if dep_plan is None:
                continue  # fully pinned or frozen: the grid already starts the task after it
            if dep not in kept or start < dep_plan.prev[-1][0] + dep_plan.prev[-1][1]:
                ok = False
        if ok:
            kept.add(tid)
    return kept


class Holds:
    """One switch per kept task (see `kept_tasks`) that, when on, holds it to its previous
    blocks or leaves it out (an overfull calendar may have to drop some work for what a
    meeting displaced). All off, the search may move anything, at the stability cost."""

    def __init__(self, builder: ModelBuilder, kept: set[str]) -> None:
        self.grid, self.model = builder.grid, builder.model
        self.kept = kept
        self.vars: dict[str, cp_model.IntVar] = {}
        self.on: set[str] = set()  # held now
        self.released: set[str] = set()  # held, left out by a repair, then freed
        m = builder.model
        for tid in sorted(kept):
            tv = builder.tasks[tid]
            on = self.vars[tid] = m.new_bool_var(f"hold[{tid}]")
            prev, when = tv.plan.prev, [on, tv.placed]
            for k, chunk in enumerate(tv.chunks):
                if k >= len(prev):
                    m.add(chunk.present == 0).only_enforce_if(on)
                    continue
                start, length = prev[k]
                m.add(chunk.present == 1).only_enforce_if(when)
                m.add(chunk.start == start).only_enforce_if(when)
                if not isinstance(chunk.size, int):
                    m.add(chunk.size == length).only_enforce_if(when)
            self._domain(on, (0, 1))

    def widen(self) -> None:
        """Free every held task."""
        self.on = set()
        for var in self.vars.values():
            self._domain(var, (0, 1))

    def held(self, placement: Placement) -> set[str]:
        """The kept tasks `placement` leaves where they were, or leaves out."""
        plans = self.grid.plans
        return {t for t in self.kept if placement.get(t, plans[t].prev) == plans[t].prev}

    def all_held(self, placement: Placement) -> bool:
        """Whether `placement` is a repair: only what the change broke moved."""
        return bool(self.kept) and self.held(placement) == self.kept

    def scope(self, placement: Placement) -> str:
        """ "" for a first schedule; "repair" or "widened" (blocks the change left valid moved)."""
        if not any(p.prev for p in self.grid.plans.values()):
            return ""
        return "repair" if self.held(placement) == self.kept else "widened"

    def hint(self, values: dict[int, tuple[cp_model.IntVar, int]], placement: Placement) -> None:
        held = self.held(placement)
        for tid, var in self.vars.items():
            values[var.index] = (var, int(tid in held))

    def hold(self, placement: Placement) -> None:
        """From now on, hold what `placement` held; free the rest."""
        self.on = self.held(placement)
        for tid, var in self.vars.items():
            self._domain(var, (1, 1) if tid in self.on else (0, 1))

    def dropped(self, placement: Placement) -> set[str]:
        """Held tasks `placement` leaves out."""
        return {t for t in self.on if t not in placement}

    def release(self, tids: set[str]) -> None:
        """Free `tids` to go anywhere (left out of a repair, they may fit elsewhere)."""
        self.on -= tids
        self.released |= tids
        for tid in tids:
            self._domain(self.vars[tid], (0, 1))

    def _domain(self, var: cp_model.IntVar, bounds: tuple[int, int]) -> None:
        domain = self.model.proto.variables[var.index].domain
        domain.clear()
        domain.extend(bounds)


def repair_placement(grid: Grid, kept: Set[str], by_priority: bool = False) -> Placement:
    """The kept tasks' previous blocks (those that fit together), then the others most urgent
    (or highest priority) first, each where it was if that still fits, else partly there,
    else at the first free fit. Always a placement the repair's restriction allows."""
    state = State(grid)
    for tid in grid.topo:
        plan = grid.plans.get(tid)
        if plan is None or tid not in kept:
            continue
        if any(d in grid.plans and d not in state.placed for d in plan.task.depends_on):
            continue
        chunks = state.keep_previous(plan, state.lo(plan), state.free_runs(plan))
        if chunks is not None:
            state.commit(plan, chunks)
    for tid in placement_order(grid, by_priority):
        plan = grid.plans.get(tid)
        if plan is None or plan.cause is not None or tid in state.placed or tid in kept:
            continue
        if any(d in grid.plans and d not in state.placed for d in plan.task.depends_on):
            continue
        lo = state.lo(plan)
        chunks = state.keep_previous(plan, lo, state.free_runs(plan)) if plan.prev else None
        if chunks is None and plan.prev and state.keep_partially(plan):
            if state.finish_partial(plan):
                continue
        if chunks is None:
            chunks = state.first_fit(plan, lo, state.free_runs(plan))
        if chunks is not None:
            state.commit(plan, chunks)
    return state.placed
