"""Replanning as a repair: keep every previous block the change did not break.

A replan after a few new meetings should restore what they broke, not re-optimise the whole
calendar. `kept_tasks` finds the tasks whose previous blocks are still valid as they were
(free slots, their window, chunk bounds, the daily and weekly limits on their own, and
dependencies that are themselves kept); `follower_tasks` those valid on their own that wait
for a dependency the change may move: each stays where it was unless that dependency then
ends after its old start. The rest (hit tasks, tasks that had no blocks) form the repair's
neighbourhood. `Holds` gives each kept task and follower a switch that holds it to its
previous blocks (or leaves it out); `repair_greedy` is the simple repair (the greedy one,
and the floor of every replan). `Restore` bounds the widening
of a repair: it may only win back what the previous schedule had and the repair lost (a
task's place, a deadline met), never give up anything the repair has, and each item it wins
back pays for at most as many moved blocks as its task had (ARCHITECTURE.md, "Stability").
"""

from __future__ import annotations

from collections.abc import Set

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder, TaskVars
from .explain import Placement
from .greedy_state import State
from .grid import Grid
from .hints import hint_values


def _valid(grid: Grid) -> set[str]:
    """Tasks whose previous blocks are still valid on their own (dependencies aside)."""
    empty = State(grid)
    valid = set()
    for tid, plan in grid.plans.items():
        if plan.cause is not None or not plan.prev:
            continue
        if empty.keep_previous(plan, plan.lo, empty.free_runs(plan)) is not None:
            valid.add(tid)
    return valid


def _in_order(grid: Grid, tid: str, among: Set[str]) -> bool:
    """Whether the task's previous blocks start after those of each dependency, all in
    `among` (a dependency fully pinned or frozen is already before the task's window)."""
    plan = grid.plans[tid]
    for dep in plan.task.depends_on:
        dep_plan = grid.plans.get(dep)
        if dep_plan is None:
            continue
        if dep not in among or plan.prev[0][0] < dep_plan.prev[-1][0] + dep_plan.prev[-1][1]:
            return False
    return True


def kept_tasks(grid: Grid) -> set[str]:
    """Tasks whose previous blocks a replan keeps exactly (empty when there are none)."""
    valid = _valid(grid)
    kept: set[str] = set()
    for tid in grid.topo:  # dependencies first: a task is kept only after all of its own
        if tid in valid and _in_order(grid, tid, kept):
            kept.add(tid)
    return kept


def follower_tasks(grid: Grid, kept: Set[str]) -> set[str]:
    """Tasks not kept only because a dependency may move: each stays where it was (or is
    left out) unless a dependency then ends after its start. Only what must follow moves."""
    return _valid(grid) - set(kept)


def held(grid: Grid, kept: Set[str], placement: Placement) -> set[str]:
    """The kept tasks `placement` leaves where they were, or leaves out."""
    plans = grid.plans
    return {t for t in kept if placement.get(t, plans[t].prev) == plans[t].prev}


def is_repair(
    grid: Grid, kept: Set[str], placement: Placement, followers: Set[str] = frozenset()
) -> bool:
    """Whether `placement` is a repair: only what the change broke moved, and followers
    only after a dependency that now ends later."""
    if not kept or held(grid, kept, placement) != kept:
        return False
    for tid in followers - held(grid, followers, placement):
        start = grid.plans[tid].prev[0][0]
        ends = [placement[d][-1][0] + placement[d][-1][1] for d in _deps(grid, tid, placement)]
        if not any(end > start for end in ends):
            return False
    return True


def _deps(grid: Grid, tid: str, placement: Placement) -> list[str]:
    return [d for d in grid.plans[tid].task.depends_on if d in grid.plans and d in placement]


class Holds:
    """One switch per kept task (see `kept_tasks`) that, when on, holds it to its previous
    blocks or leaves it out (an overfull calendar may have to drop some work for what a
    meeting displaced). A follower (see `follower_tasks`) has one too, which may be off
    during a repair only when a dependency ends after the follower's old start. All off
    (`widen`), the search may move anything, at the stability cost."""

    def __init__(
        self, builder: ModelBuilder, kept: set[str], followers: Set[str] = frozenset()
    ) -> None:
        self.grid, self.model = builder.grid, builder.model
        self.kept = kept
        self.followers = set(followers) - kept
        self.vars: dict[str, cp_model.IntVar] = {}
        self.on: set[str] = set()  # held now
        self.released: set[str] = set()  # held, left out by a repair, then freed
        m = builder.model
        # On: followers move only after a dependency that now ends later (off: widened).
        self.repairing = m.new_bool_var("repairing")
        for tid in sorted(kept | self.followers):
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
            if tid in self.followers:
                m.add_bool_or([on, ~self.repairing, *self._later(builder, tv)])
        self._domain(self.repairing, (1, 1))

    def _later(self, builder: ModelBuilder, tv: TaskVars) -> list[cp_model.IntVar]:
        """Flags, one per chunk of each dependency, each true only if that chunk is placed
        and ends after the task's old start."""
        m, start, out = self.model, tv.plan.prev[0][0], []
        for dep in tv.plan.task.depends_on:
            if dep not in builder.tasks:
                continue
            for k, chunk in enumerate(builder.tasks[dep].chunks):
                flag = m.new_bool_var(f"later[{tv.plan.task.id}<{dep}#{k}]")
                m.add_implication(flag, chunk.present)
                m.add(chunk.end >= start + 1).only_enforce_if(flag)
                out.append(flag)
        return out

    def free_followers(self) -> None:
        """Let followers move whatever their dependencies do (no repair to keep to)."""
        self._domain(self.repairing, (0, 1))

    def widen(self) -> None:
        """Free every held task and follower."""
        self.on = set()
        for var in self.vars.values():
            self._domain(var, (0, 1))
        self._domain(self.repairing, (0, 1))

    def held(self, placement: Placement) -> set[str]:
        """The kept tasks `placement` leaves where they were, or leaves out."""
        return held(self.grid, self.kept, placement)

    def scope(self, placement: Placement) -> str:
        """ "" for a first schedule; "full" when a whole re-optimisation was asked for;
        "repair" or "widened" (blocks the change left valid moved)."""
        if not any(p.prev for p in self.grid.plans.values()):
            return ""
        if self.grid.problem.replan_scope == "full":
            return "full"
        return "repair" if self.held(placement) == self.kept else "widened"

    def hint(self, values: dict[int, tuple[cp_model.IntVar, int]], placement: Placement) -> None:
        still = held(self.grid, self.vars.keys(), placement)
        for tid, var in self.vars.items():
            values[var.index] = (var, int(tid in still))
        values[self.repairing.index] = (self.repairing, 1)

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


def unearned(builder: ModelBuilder, repairs: list[Placement]) -> list[str]:
    """Tasks whose soft deadline the previous schedule missed and no simple repair meets:
    meeting it is no gain a repair buys with moved blocks (the change did not cost it), so
    the caller counts it as missed. New work and hard deadlines keep their reward."""
    new = set(builder.grid.problem.new_tasks)
    return [
        tid
        for tid, tv in builder.tasks.items()
        if tv.missed is not None
        and tid not in new
        and not tv.plan.task.hard_deadline  # placed in time is its whole point
        and not (tv.plan.prev and _met(tv, tv.plan.prev))
        and not any(tid in p and _met(tv, p[tid]) for p in repairs)
    ]


class Restore:
    """What a widened repair may buy back, and at what price in moved blocks.

    An item is a task placed, or a task's deadline met. The items of the previous schedule
    (its blocks, measured against today's problem) that the repair lost are the only gain
    widening may seek: not improvements the previous schedule did not have either. Every item
    the repair has is kept (no trading one task for another), and the blocks moved beyond the
    repair's own moves are at most the sum, over items won back, of the previous blocks of
    their task: a task may displace about as much as it needs room for, not the calendar.
    New work (`Problem.new_tasks`: a plan scheduled for the first time) is the other gain:
    its place and deadlines may move other blocks at the objective's stability cost alone.
    """

    def __init__(self, builder: ModelBuilder, repair: Placement) -> None:
        """From the repair's placement (waiting work filled in: see `repair_greedy.fill`)."""
        self.builder = builder
        self.repair = repair
        self.lost: list[tuple[str, str, cp_model.LinearExprT]] = []  # (task, item, won back)
        self._kept = [var for tv in builder.tasks.values() for _, _, var in tv.same]
        values = hint_values(builder, repair)
        self._repair_kept = sum(values[var.index][1] for var in self._kept)
        new = set(builder.grid.problem.new_tasks)
        for tid, tv in builder.tasks.items():
            if not tv.plan.prev and tid not in new:
                continue
            if tid not in self.repair:
                self.lost.append((tid, "placed", tv.placed))
            had = tid in new or _met(tv, tv.plan.prev)
            if tv.missed is not None and had and not self._met(tid):
                self.lost.append((tid, "deadline", 1 - tv.missed))

    def moved_more_than_hit(self) -> bool:
        """Whether the repair moved blocks the change did not hit (followers, displaced
        work): a schedule moving fewer, with all the repair has, would then be better."""
        grid = self.builder.grid
        hit = sum(
            1
            for tv in self.builder.tasks.values()
            for start, length in tv.plan.prev
            if not all(grid.free[start : start + length])
        )
        blocks = sum(len(tv.plan.prev) for tv in self.builder.tasks.values())
        return blocks - self._repair_kept > hit

    def _met(self, tid: str) -> bool:
        chunks = self.repair.get(tid)
        return chunks is not None and _met(self.builder.tasks[tid], chunks)

    def add(self) -> None:
        """Constrain the model to keep every item the repair has and to move no more blocks
        than the repair did, plus what the lost items it wins back pay for."""
        m = self.builder.model
        wanted = {(tid, item) for tid, item, _ in self.lost}
        for tid, tv in self.builder.tasks.items():
            # What the repair has stays; what neither it nor the previous schedule had (and
            # is not new work) is no gain: a task left out stays out, a missed deadline
            # earns nothing (lateness points alone never pay for a move).
            if tid in self.repair:
                m.add(tv.placed == 1)
            elif (tid, "placed") not in wanted:
                m.add(tv.placed == 0)
            if tv.missed is not None and self._met(tid):
                m.add(tv.missed == 0)
            elif tv.missed is not None and (tid, "deadline") not in wanted:
                m.add(tv.missed == 1)
        won = [var for _, _, var in self.lost]
        # New work (see `Problem.new_tasks`) is priced by the objective's stability cost alone.
        everything = sum(len(tv.plan.prev) for tv in self.builder.tasks.values())
        price = [
            len(plan.prev) or everything
            for plan in (self.builder.tasks[tid].plan for tid, _, _ in self.lost)
        ]
        extra = self._repair_kept - cp_model.LinearExpr.sum(self._kept)
        m.add(extra <= cp_model.LinearExpr.weighted_sum(won, price))

    def won(self, placement: Placement) -> tuple[str, ...]:
        """The tasks whose lost items `placement` wins back."""
        out = []
        for tid, item, _ in self.lost:
            chunks = placement.get(tid)
            if chunks and (item == "placed" or _met(self.builder.tasks[tid], chunks)):
                out.append(tid)
        return tuple(dict.fromkeys(out))


def _met(tv: TaskVars, chunks: list[tuple[int, int]]) -> bool:
    """Whether `chunks` (a placement of the task) meet its deadline."""
    deadline = tv.plan.soft_deadline
    return deadline is None or max(s + n for s, n in chunks) <= deadline
