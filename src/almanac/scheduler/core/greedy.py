"""Earliest-deadline-first greedy scheduler: CP-SAT's warm start, and its fallback.

Tasks go in dependency order, the most urgent first (a dependency inherits the urgency of the
work waiting on it), and each takes the first free slots that fit. Blocks from the previous
schedule that still fit are kept where they were, which makes it a stable hint for replanning.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Collection, Mapping

from .explain import Placement, assemble, capacity_cause
from .grid import Grid, TaskPlan, Week, build_grid
from .model import Problem, Schedule, SolveStatus, UnplacedCause

_NEVER = 1 << 40
_TRIES = 20  # candidate places tried when making room for a hard deadline


def greedy_schedule(problem: Problem, order: str = "edf") -> Schedule:
    """Place the problem's tasks greedily; never calls CP-SAT.

    `order` "edf": the most urgent first (the global earliest-deadline-first baseline);
    "priority": the highest priority first, then the most urgent (the plain greedy baseline).
    """
    started = time.perf_counter()
    grid = build_grid(problem)
    placement, causes = greedy_placement(grid, by_priority=order == "priority")
    return assemble(
        grid, placement, causes, SolveStatus.GREEDY, wall_time=time.perf_counter() - started
    )


def greedy_placement(
    grid: Grid, first: Collection[str] = (), *, by_priority: bool = False
) -> tuple[Placement, dict[str, tuple[UnplacedCause, str]]]:
    """Chunks (start slot, length) per placed task, and a cause per task left out.

    Tasks in `first` (closed under dependencies) go before the rest, each group in
    earliest-deadline-first order; CP-SAT's task selection uses this for a better hint.
    """
    state = _State(grid)
    causes: dict[str, tuple[UnplacedCause, str]] = {}
    # Previous blocks that still fit are reserved before anything new is placed, so a task
    # placed early cannot push a later task out of its old place.
    kept: list[str] = []
    for tid in grid.topo:
        plan = grid.plans.get(tid)
        if plan is None or plan.cause is not None or not plan.prev:
            continue
        if any(d in grid.plans and d not in state.placed for d in plan.task.depends_on):
            continue
        chunks = state.keep_previous(plan, state.lo(plan), state.free_runs(plan))
        if chunks is not None:
            state.commit(plan, chunks)
            kept.append(tid)
    order = _order(grid, by_priority)
    if first:
        order = [t for t in order if t in first] + [t for t in order if t not in first]
    evicted: list[str] = []
    for tid in order:
        plan = grid.plans.get(tid)
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
            causes[tid] = (UnplacedCause.DEPENDENCY_UNPLACED, f"waits for {waiting[0]!r}")
            continue
        chunks = state.first_fit(plan, state.lo(plan), state.free_runs(plan))
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
            causes[tid] = (UnplacedCause.DEPENDENCY_UNPLACED, f"waits for {waiting[0]!r}")
        else:
            causes[tid] = capacity_cause(plan)
    return state.placed, causes


def _order(grid: Grid, by_priority: bool = False) -> list[str]:
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
            _NEVER
            if plan is None or plan.task.deadline is None
            else grid.floor_idx(plan.task.deadline)
        )
        for user in users[tid]:
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


class _State:
    """Occupied slots and used capacity while tasks are placed one by one."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.busy = [0] * grid.size
        self.owner: list[str | None] = [None] * grid.size
        self.users: dict[str, list[str]] = defaultdict(list)
        for task in grid.problem.tasks:
            for dep in task.depends_on:
                self.users[dep].append(task.id)
        self.day_used = [0] * len(grid.days)
        self.week_used: dict[Week, int] = defaultdict(int)
        self.placed: Placement = {}
        # The first free slot at or after each slot (static: busy time changes, free does not).
        self.next_free = [grid.size] * (grid.size + 1)
        for i in range(grid.size - 1, -1, -1):
            self.next_free[i] = i if grid.free[i] else self.next_free[i + 1]

    def lo(self, plan: TaskPlan) -> int:
        """The first slot a chunk may start: after the task's window opens and its deps end."""
        ends = [
            self.placed[d][-1][0] + self.placed[d][-1][1]
            for d in plan.task.depends_on
            if d in self.placed
        ]
        return max([plan.lo, *ends])

    def evict_for(
        self, plan: TaskPlan, kept: list[str], evicted: list[str]
    ) -> list[tuple[int, int]] | None:
        """Place a hard-deadline task by moving kept previous blocks that have none.

        The least valuable work in the way goes first. Returns the chunks
        with the displaced tasks (and whatever depends on them) taken out and added to
        `evicted`, or None with nothing changed.
        """
        grid = self.grid
        ancestors = _ancestors(grid, plan.task.id)
        movable = [t for t in kept if not grid.plans[t].task.hard_deadline and t not in ancestors]
        lo, bs = self.lo(plan), grid.buffer_slots
        if plan.max_chunks == 1:  # one block: put it where it displaces the least work
            for start, owners in self._cheapest_starts(plan, lo, set(movable))[:_TRIES]:
                chunks = self._evict(plan, lo, owners, evicted, at=start)
                if chunks is not None:
                    return chunks
            return None
        in_way = [
            t
            for t in movable
            if any(s < plan.hi + bs and lo - bs < s + n for s, n in self.placed[t])
        ]
        in_way.sort(key=lambda t: self._loss({t}))
        # One task in the way, then the cheapest two, three, ... of them.
        groups = [[t] for t in in_way] + [in_way[:k] for k in range(2, len(in_way) + 1)]
        for group in groups[:_TRIES]:
            chunks = self._evict(plan, lo, group, evicted)
            if chunks is not None:
                return chunks
        return None

    def _cheapest_starts(
        self, plan: TaskPlan, lo: int, movable: set[str]
    ) -> list[tuple[int, list[str]]]:
        """Starts where only movable work is in the way, the least valuable first."""
        grid, bs, length = self.grid, self.grid.buffer_slots, plan.remaining
        found: list[tuple[int, int, list[str]]] = []
        for start in range(lo, plan.hi - length + 1):
            if grid.run[start] < length:
                continue
            around = range(max(0, start - bs), min(grid.size, start + length + bs))
            owners = {o for i in around if (o := self.owner[i]) is not None}
            if owners <= movable:
                found.append((self._loss(owners), start, sorted(owners)))
        found.sort(key=lambda f: (f[0], f[1]))
        return [(start, owners) for _, start, owners in found]

    def _loss(self, tids: set[str]) -> int:
        """Priority-weighted work at stake if `tids` move: they and the placed work after them."""
        seen, stack = set(), list(tids)
        while stack:
            tid = stack.pop()
            if tid not in seen and tid in self.placed:
                seen.add(tid)
                stack.extend(self.users[tid])
        plans = self.grid.plans
        return sum(plans[t].task.priority * plans[t].remaining for t in seen)

    def _evict(
        self, plan: TaskPlan, lo: int, group: list[str], evicted: list[str], at: int = -1
    ) -> list[tuple[int, int]] | None:
        grid = self.grid
        saved = {t: self.placed[t] for t in group}
        for tid in group:
            self.uncommit(tid)
        runs = self.free_runs(plan)
        if at < 0:
            chunks = self.first_fit(plan, lo, runs)
        else:
            fits = runs[at] >= plan.remaining and self._room(at, {}, {}) >= plan.remaining
            chunks = [(at, plan.remaining)] if fits else None
        if chunks is not None:
            self.commit(plan, chunks)
        lost: set[str] = set()
        for tid in grid.topo:  # put back whatever still fits where it was
            if tid in saved:
                back = grid.plans[tid]
                runs = self.free_runs(back)
                if chunks is None or self.keep_previous(back, self.lo(back), runs) is not None:
                    self.commit(back, saved[tid])
                else:
                    lost.add(tid)
        if chunks is None:
            return None
        self.uncommit(plan.task.id)
        for tid in grid.topo:  # dependants of displaced work must follow it
            if tid in self.placed and any(d in lost for d in grid.plans[tid].task.depends_on):
                lost.add(tid)
                self.uncommit(tid)
        evicted.extend(sorted(lost))
        return chunks

    def free_runs(self, plan: TaskPlan) -> _Runs:
        """Per slot, how many slots in a row from it a chunk may take (buffers included)."""
        return _Runs(self, plan)

    def _room(
        self, start: int, taken_day: Mapping[int, int], taken_week: Mapping[Week, int]
    ) -> int:
        grid = self.grid
        room = _NEVER
        day = grid.day_of[start]
        if grid.day_cap is not None:
            room = grid.day_cap[day] - self.day_used[day] - taken_day.get(day, 0)
        if grid.week_cap is not None:
            week = grid.days[day].week
            room = min(room, grid.week_cap[week] - self.week_used[week] - taken_week.get(week, 0))
        return room

    def keep_previous(self, plan: TaskPlan, lo: int, ok_run: _Runs) -> list[tuple[int, int]] | None:
        prev = plan.prev
        if not prev or len(prev) > plan.max_chunks:
            return None
        if sum(length for _, length in prev) != plan.remaining:
            return None
        gap = max(self.grid.buffer_slots, 1)
        taken_day: dict[int, int] = defaultdict(int)
        taken_week: dict[Week, int] = defaultdict(int)
        floor = lo
        for start, length in prev:
            if not plan.min_len <= length <= plan.max_len or start < floor:
                return None
            if start + length > plan.hi or ok_run[start] < length:
                return None
            if self._room(start, taken_day, taken_week) < length:
                return None
            day = self.grid.day_of[start]
            taken_day[day] += length
            taken_week[self.grid.days[day].week] += length
            floor = start + length + gap
        return list(prev)

    def first_fit(self, plan: TaskPlan, lo: int, ok_run: _Runs) -> list[tuple[int, int]] | None:
        gap = max(self.grid.buffer_slots, 1)
        chunks: list[tuple[int, int]] = []
        taken_day: dict[int, int] = defaultdict(int)
        taken_week: dict[Week, int] = defaultdict(int)
        remaining, i = plan.remaining, lo
        nxt = self.next_free
        while remaining > 0 and i < plan.hi and len(chunks) < plan.max_chunks:
            i = nxt[i]
            if i >= plan.hi:
                break
            run = ok_run[i]
            if run < plan.min_len:  # no chunk can start before the slot that ends this run
                i += run + 1
                continue
            length = min(run, plan.hi - i, plan.max_len, remaining)
            if length >= plan.min_len:
                room = self._room(i, taken_day, taken_week)
                if room < plan.min_len:  # this day (or week) is full: try the next day
                    i = max(i + 1, self.grid.days[self.grid.day_of[i]].hi)
                    continue
                length = min(length, room)
                if 0 < remaining - length < plan.min_len:
                    length = remaining - plan.min_len
                later = (plan.max_chunks - len(chunks) - 1) * plan.max_len
                if length >= plan.min_len and remaining - length <= later:
                    chunks.append((i, length))
                    day = self.grid.day_of[i]
                    taken_day[day] += length
                    taken_week[self.grid.days[day].week] += length
                    remaining -= length
                    i += length + gap
                    continue
            i += 1
        return chunks if remaining == 0 else None

    def commit(self, plan: TaskPlan, chunks: list[tuple[int, int]]) -> None:
        self._mark(chunks, 1, plan.task.id)
        self.placed[plan.task.id] = chunks

    def uncommit(self, tid: str) -> None:
        self._mark(self.placed.pop(tid), -1, None)

    def _mark(self, chunks: list[tuple[int, int]], sign: int, owner: str | None) -> None:
        for start, length in chunks:
            for i in range(start, start + length):
                self.busy[i] += sign
                self.owner[i] = owner
            day = self.grid.day_of[start]
            self.day_used[day] += sign * length
            self.week_used[self.grid.days[day].week] += sign * length


class _Runs:
    """Free slots in a row from a slot, computed on demand and capped at what the task needs.

    Computing the whole row per task made greedy quadratic in the horizon (1.4 s at 300 tasks
    over six weeks); callers only ever compare a run with a length up to `plan.remaining`.
    """

    def __init__(self, state: _State, plan: TaskPlan) -> None:
        self.free, self.busy = state.grid.free, state.busy
        self.bs, self.plan = state.grid.buffer_slots, plan
        self.hi = min(state.grid.size, plan.hi)

    def __getitem__(self, i: int) -> int:
        if i < self.plan.lo:
            return 0
        free, busy, bs = self.free, self.busy, self.bs
        n, j, cap = 0, i, self.plan.remaining
        while n < cap and j < self.hi and free[j]:
            if busy[j] or (bs and any(busy[max(0, j - bs) : j + bs + 1])):
                break
            n, j = n + 1, j + 1
        return n


def _ancestors(grid: Grid, tid: str) -> set[str]:
    deps = {t.id: t.depends_on for t in grid.problem.tasks}
    out: set[str] = set()
    stack = list(deps[tid])
    while stack:
        node = stack.pop()
        if node not in out:
            out.add(node)
            stack.extend(deps[node])
    return out
