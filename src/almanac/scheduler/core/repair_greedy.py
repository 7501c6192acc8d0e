"""The simple repair: the greedy replan every replan is measured against, and starts from.

It keeps every previous block the change left valid (see `repair.kept_tasks`), and each
follower where it was until a dependency ends after it; it places the work the change
displaced (hit tasks, followers that must move) greedily, each where it was if that still
fits, else partly there, else at the first free fit; and only then puts *waiting* work (tasks
the previous schedule left out, not new) into the free time that is left (`fill`). Waiting
work never displaces a block: a replan owes the user what they had, and finding room for
what they did not have is a full re-plan's job (`scope: "full"`). Work with a hard deadline
is never waiting work: the search places it like displaced work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from . import floors as fl
from .explain import Placement
from .greedy import placement_order
from .greedy_state import State
from .grid import Grid
from .model import Floor


def waiting_tasks(grid: Grid) -> set[str]:
    """Tasks the previous schedule left out that this request does not newly place; one with
    a hard deadline is not waiting work (hard deadlines come first in the objective), nor
    one that work with previous blocks depends on (left out by an older run, it must come
    before that work again: the search places it, or that work goes too)."""
    new = set(grid.problem.new_tasks)
    needed = ancestors(grid, {tid for tid, plan in grid.plans.items() if plan.prev})
    return {
        tid
        for tid, plan in grid.plans.items()
        if not plan.prev
        and plan.cause is None
        and tid not in new
        and not plan.task.hard_deadline
        and tid not in needed
    }


def ancestors(grid: Grid, tids: Set[str]) -> set[str]:
    """What `tids` depend on, directly or through other tasks (not `tids` themselves)."""
    return _reached(tids, {t.id: t.depends_on for t in grid.problem.tasks})


def dependents(grid: Grid, tids: Set[str]) -> set[str]:
    """What depends on `tids`, directly or through other tasks (not `tids` themselves)."""
    users: dict[str, list[str]] = {}
    for t in grid.problem.tasks:
        for d in t.depends_on:
            users.setdefault(d, []).append(t.id)
    return _reached(tids, users)


def _reached(tids: Set[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    out: set[str] = set()
    stack = [n for tid in tids for n in edges.get(tid, ())]
    while stack:
        tid = stack.pop()
        if tid not in out:
            out.add(tid)
            stack.extend(edges.get(tid, ()))
    return out


def in_order(grid: Grid, placement: Placement) -> Placement:
    """`placement` with every task placed after all of its dependencies: one placed although
    a dependency is not, or starting before one ends (a baseline stripped of waiting work,
    then filled), is taken out, with what follows it, and put back at its first free fit
    after them where there is one (else it stays out, its dependency named as why)."""
    out, broken = dict(placement), set()
    for tid in grid.topo:
        chunks = out.get(tid)
        if chunks is None:
            continue
        start = min(s for s, _ in chunks)
        for dep in grid.plans[tid].task.depends_on:
            if dep not in grid.plans:
                continue  # done, closed or fully fixed: before its window already
            if dep not in out or max(s + n for s, n in out[dep]) > start:
                broken.add(tid)
                del out[tid]
                break
    if not broken:
        return placement
    broken |= dependents(grid, broken) & set(out)
    return fill(grid, {t: c for t, c in out.items() if t not in broken}, broken)


def repair_placement(
    grid: Grid,
    kept: Set[str],
    by_priority: bool = False,
    followers: Set[str] = frozenset(),
    skip: Set[str] = frozenset(),
) -> Placement:
    """The kept tasks' previous blocks (those that fit together), and the followers' where
    their dependencies still end before them; then the others most urgent (or highest
    priority) first, each where it was if that still fits, else partly there, else at the
    first free fit; `skip` (waiting work, see `fill`) is left out. Always a placement the
    repair's restriction allows."""
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
    for tid in sorted(followers):  # where they were, until a dependency ends later
        plan = grid.plans[tid]
        chunks = state.keep_previous(plan, plan.lo, state.free_runs(plan))
        if chunks is not None:
            state.commit(plan, chunks)
    for tid in placement_order(grid, by_priority):
        if tid not in kept and tid not in skip and tid not in state.placed:
            _place(state, grid, tid)
    # Dependencies first: a follower moves only after a dependency that now ends later, and
    # anything placed after a task that has since moved (or been left out) follows it again.
    for tid in grid.topo:
        plan = grid.plans.get(tid)
        if plan is None or tid in kept or tid not in state.placed:
            continue
        ends = [state.placed.get(d) for d in plan.task.depends_on if d in grid.plans]
        start = state.placed[tid][0][0]
        broken = any(not e or e[-1][0] + e[-1][1] > start for e in ends)
        if tid in followers and not broken and state.placed[tid] != plan.prev:
            old = plan.prev[0][0]
            if not any(e[-1][0] + e[-1][1] > old for e in ends if e):
                state.uncommit(tid)  # it could not stay where it was: left out
        elif broken:
            state.uncommit(tid)
            _place(state, grid, tid)
    return state.placed


def fill(grid: Grid, placement: Placement, tids: Set[str], by_priority: bool = True) -> Placement:
    """`placement` as it is, and then `tids` (waiting work) each at its first free fit, highest
    priority (or most urgent) first, after its dependencies; what does not fit stays out."""
    state = State(grid)
    for tid in grid.topo:
        if tid in placement:
            state.commit(grid.plans[tid], list(placement[tid]))
    for tid in placement_order(grid, by_priority):
        if tid in tids and tid not in state.placed:
            _place(state, grid, tid)
    return state.placed


def simple_repair(
    grid: Grid, kept: Set[str], followers: Set[str], waiting: Set[str]
) -> dict[str, Placement]:
    """The simple repairs by name: displaced work most urgent first ("repair-edf") or highest
    priority first ("repair-greedy"), then waiting work into the free time left."""
    return {
        name: fill(grid, repair_placement(grid, kept, by_priority, followers, waiting), waiting)
        for name, by_priority in (("repair-edf", False), ("repair-greedy", True))
    }


class Finish:
    """A replan's last step: waiting work goes into the free time the answer leaves, and the
    answer is never below the simple repair: one under it on weighted hours or deadlines met
    is replaced by it (named in `source`). A first solve passes through."""

    def __init__(
        self, grid: Grid, kept: Set[str], followers: Set[str], waiting: set[str], on: bool
    ) -> None:
        self.grid, self.waiting, self.on = grid, waiting, on
        self.simple: dict[str, Placement] = {}
        if self.on:
            self.simple = simple_repair(grid, kept, followers, waiting)
            measures = {n: fl.measure(grid, p) for n, p in self.simple.items()}
            self.best = max(measures, key=lambda n: (measures[n].work, measures[n].met, n))
            self.floor = measures[self.best]

    def fill(self, placement: Placement) -> Placement:
        return fill(self.grid, placement, self.waiting) if self.on else placement

    def __call__(self, placement: Placement, source: str) -> tuple[Placement, str]:
        if not self.on:
            return in_order(self.grid, placement), source
        filled = in_order(self.grid, self.fill(placement))
        answer = fl.measure(self.grid, filled)
        if answer.work < self.floor.work or answer.met < self.floor.met:
            return self.simple[self.best], self.best
        return filled, source

    def floors(self, answer: fl.Measure) -> tuple[Floor, ...]:
        """The simple repair's figures as floors of a replan (none for a first solve)."""
        if not self.on:
            return ()
        return fl.repair_floors(self.best, self.floor, answer, self.grid.problem.slot_minutes)


def _place(state: State, grid: Grid, tid: str) -> None:
    """Place one task of the repair's neighbourhood, where it was if that still fits."""
    plan = grid.plans.get(tid)
    if plan is None or plan.cause is not None:
        return
    if any(d in grid.plans and d not in state.placed for d in plan.task.depends_on):
        return
    lo = state.lo(plan)
    chunks = state.keep_previous(plan, lo, state.free_runs(plan)) if plan.prev else None
    if chunks is None and plan.prev and state.keep_partially(plan):
        if state.finish_partial(plan):
            return
    if chunks is None:
        chunks = state.first_fit(plan, lo, state.free_runs(plan))
    if chunks is not None:
        state.commit(plan, chunks)
