"""Earliest-deadline-first greedy scheduler: CP-SAT's warm start, and its fallback.

Tasks go in dependency order, the most urgent first (a dependency inherits the urgency of the
work waiting on it), and each takes the first free slots that fit. Blocks from the previous
schedule that still fit are kept where they were (work after a displaced block too, when it
still fits after it), which makes it a stable hint for replanning.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Collection, Mapping

from .explain import Placement, assemble, capacity_cause, waiting_cause
from .greedy_state import NEVER, State
from .grid import Grid, build_grid
from .model import Problem, Schedule, SolveStatus, UnplacedCause


def greedy_schedule(problem: Problem, order: str = "edf") -> Schedule:
    """Place the problem's tasks greedily; never calls CP-SAT.

    `order` "edf": the most urgent first (the global earliest-deadline-first baseline);
    "priority": the highest priority first, then the most urgent (the plain greedy baseline);
    "edf-own": each task by its own deadline (the textbook global EDF, `placement_order`).
    """
    started = time.perf_counter()
    grid = build_grid(problem)
    placement, causes = greedy_placement(
        grid, by_priority=order == "priority", own_deadlines=order == "edf-own"
    )
    return assemble(
        grid, placement, causes, SolveStatus.GREEDY, wall_time=time.perf_counter() - started
    )


def greedy_placement(
    grid: Grid,
    first: Collection[str] | Mapping[str, int] = (),
    *,
    by_priority: bool = False,
    then_by_priority: bool = False,
    fresh: bool = False,
    own_deadlines: bool = False,
) -> tuple[Placement, dict[str, tuple[UnplacedCause, str]]]:
    """Chunks (start slot, length) per placed task, and a cause per task left out.

    Tasks in `first` (closed under dependencies) go before the rest, each group in
    earliest-deadline-first order (the rest highest priority first with `then_by_priority`);
    a mapping ranks them in tiers, lowest first (a dependency's tier must not be higher).
    CP-SAT's hints use this to mix the baselines' merits. `fresh` ignores the previous
    schedule (pins and frozen blocks still hold): the plain baseline, planning the whole
    calendar at once, that a schedule of new work must not fall below. `own_deadlines`: the
    textbook EDF (see `placement_order`).
    """
    state = State(grid)
    causes: dict[str, tuple[UnplacedCause, str]] = {}
    # Previous blocks that still fit are reserved before anything new is placed, so a task
    # placed early cannot push a later task out of its old place.
    kept: list[str] = []
    for tid in grid.topo:
        plan = grid.plans.get(tid)
        if fresh or plan is None or plan.cause is not None or not plan.prev:
            continue
        deps = plan.task.depends_on
        if any(d in grid.plans and (d not in state.placed or d in state.partial) for d in deps):
            continue
        chunks = state.keep_previous(plan, state.lo(plan), state.free_runs(plan))
        if chunks is not None:
            state.commit(plan, chunks)
            kept.append(tid)
        elif state.keep_partially(plan):
            kept.append(tid)  # the rest is placed in its turn below
    order = placement_order(grid, by_priority, inherit=not own_deadlines)
    if first:
        rest = placement_order(grid, True) if then_by_priority else order
        tier = first if isinstance(first, Mapping) else dict.fromkeys(first, 0)
        ranked = sorted((t for t in order if t in tier), key=lambda t: tier[t])
        order = ranked + [t for t in rest if t not in tier]
    evicted: list[str] = []
    for tid in order:
        plan = grid.plans.get(tid)
        if plan is not None and tid in state.partial:
            if state.finish_partial(plan):
                continue
        if plan is None or tid in state.placed:
            continue  # fully pinned or frozen already, or kept where it was
        if plan.cause is not None:
            causes[tid] = plan.cause
            continue
        waiting = [d for d in plan.task.depends_on if d in grid.plans and d not in state.placed]
        if waiting and set(waiting) & set(evicted):
            evicted.append(tid)  # its dependency comes back below; so does it
            continue
        if waiting:
            causes[tid] = waiting_cause(grid, waiting[0])
            continue
        lo = state.lo(plan)
        # Where it was, if that still fits now that its dependencies are placed (work after
        # a block a meeting displaced need not move with it).
        chunks = (
            state.keep_previous(plan, lo, state.free_runs(plan))
            if plan.prev and not fresh
            else None
        )
        if chunks is None:
            chunks = state.first_fit(plan, lo, state.free_runs(plan))
        if chunks is None and plan.task.hard_deadline and plan.prev:
            # Only work the change displaced may push kept blocks aside; anything else with a
            # hard deadline that does not fit is left to CP-SAT's trade-offs.
            chunks = state.evict_for(plan, [k for k in kept if k in state.placed], evicted)
        if chunks is None:
            causes[tid] = capacity_cause(plan)
            continue
        state.commit(plan, chunks)
    for tid in sorted(set(evicted), key=order.index):  # evicted work goes wherever it fits
        plan = grid.plans[tid]
        if tid in state.placed:
            continue  # its turn came after it was evicted
        waiting = [d for d in plan.task.depends_on if d in grid.plans and d not in state.placed]
        chunks = None if waiting else state.first_fit(plan, state.lo(plan), state.free_runs(plan))
        if chunks is not None:
            state.commit(plan, chunks)
        elif waiting:
            causes[tid] = waiting_cause(grid, waiting[0])
        else:
            causes[tid] = capacity_cause(plan)
    return state.placed, causes


def placement_order(grid: Grid, by_priority: bool = False, inherit: bool = True) -> list[str]:
    """Task ids in dependency order, the most urgent (or highest priority) ready task first.

    With `inherit` a dependency is as urgent as the work waiting on it; without, each task
    counts its own deadline only (the textbook EDF: on an overfull calendar, work without a
    deadline that only leads to a late task no longer takes the early time of tasks that can
    still be on time).
    """
    plans = grid.plans
    urgency: dict[str, int] = {}
    users: dict[str, list[str]] = defaultdict(list)
    by_id = {t.id: t for t in grid.problem.tasks}
    for tid in grid.topo:
        for dep in by_id[tid].depends_on:
            users[dep].append(tid)
    for tid in reversed(grid.topo):
        plan = plans.get(tid)
        own = (
            NEVER
            if plan is None or plan.task.deadline is None
            else grid.floor_idx(plan.task.deadline)
        )
        for user in users[tid] if inherit else ():
            need = plans[user].remaining if user in plans else 0
            own = min(own, urgency[user] - need)
        urgency[tid] = own
    priority = {t.id: t.priority for t in grid.problem.tasks}
    waiting = {tid: len(by_id[tid].depends_on) for tid in grid.topo}

    def key(t: str) -> tuple[int, int, str]:
        return (-priority[t], urgency[t], t) if by_priority else (urgency[t], -priority[t], t)

    heap = [key(t) for t, n in waiting.items() if n == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        *_, tid = heapq.heappop(heap)
        order.append(tid)
        for user in users[tid]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(heap, key(user))
    leftover = [t.id for t in grid.problem.tasks if t.id not in urgency]
    return order + leftover
