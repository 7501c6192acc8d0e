"""The greedy scheduler's working state: occupied slots, used capacity, placing primitives."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from .explain import Placement
from .grid import Grid, TaskPlan, Week

NEVER = 1 << 40
_TRIES = 20  # candidate places tried when making room for a hard deadline


class State:
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
        self.partial: dict[str, int] = {}  # task -> slots still to place beside kept chunks
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
        needs = ancestors(grid, plan.task.id)
        movable = [t for t in kept if not grid.plans[t].task.hard_deadline and t not in needs]
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
        for tid in lost:  # a task kept in part and now displaced is re-placed whole
            self.partial.pop(tid, None)
        evicted.extend(sorted(lost))
        return chunks

    def free_runs(self, plan: TaskPlan) -> _Runs:
        """Per slot, how many slots in a row from it a chunk may take (buffers included)."""
        return _Runs(self, plan)

    def _room(
        self, start: int, taken_day: Mapping[int, int], taken_week: Mapping[Week, int]
    ) -> int:
        grid = self.grid
        room = NEVER
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

    def keep_partially(self, plan: TaskPlan) -> bool:
        """Reserve the previous chunks that still fit on their own (a meeting took another);
        the rest is placed by `finish_partial`. A replan then moves only the chunk hit."""
        lo, runs = self.lo(plan), self.free_runs(plan)
        taken_day: dict[int, int] = defaultdict(int)
        taken_week: dict[Week, int] = defaultdict(int)
        kept = []
        for start, length in plan.prev:
            fits = (
                plan.min_len <= length <= plan.max_len
                and lo <= start
                and start + length <= plan.hi
                and runs[start] >= length
                and self._room(start, taken_day, taken_week) >= length
            )
            if fits:
                kept.append((start, length))
                day = self.grid.day_of[start]
                taken_day[day] += length
                taken_week[self.grid.days[day].week] += length
        rest = plan.remaining - sum(length for _, length in kept)
        if not kept or rest < plan.min_len or len(kept) >= plan.max_chunks:
            return False
        self.commit(plan, kept)
        self.partial[plan.task.id] = rest
        return True

    def finish_partial(self, plan: TaskPlan) -> bool:
        """Place what `keep_partially` left; on failure the task is re-placed whole."""
        tid = plan.task.id
        rest, kept = self.partial.pop(tid), self.placed[tid]
        part = replace(plan, remaining=rest, max_chunks=plan.max_chunks - len(kept), prev=[])
        # Its kept chunks count against the day and week like any other work; the slots next
        # to them are held too, as two chunks of one task may not touch.
        gap = max(self.grid.buffer_slots, 1)
        held = [
            i
            for start, length in kept
            for i in [*range(start - gap, start), *range(start + length, start + length + gap)]
            if 0 <= i < self.grid.size
        ]
        for i in held:
            self.busy[i] += 1
        chunks = self.first_fit(part, self.lo(plan), self.free_runs(part))
        for i in held:
            self.busy[i] -= 1
        self.uncommit(tid)
        if chunks is None:
            return False
        merged = sorted(kept + chunks)
        if any(b[0] < a[0] + a[1] + gap for a, b in zip(merged, merged[1:], strict=False)):
            return False
        self.commit(plan, merged)
        return True

    def first_fit(self, plan: TaskPlan, lo: int, ok_run: _Runs) -> list[tuple[int, int]] | None:
        gap = max(self.grid.buffer_slots, 1)
        chunks: list[tuple[int, int]] = []
        taken_day: dict[int, int] = defaultdict(int)
        taken_week: dict[Week, int] = defaultdict(int)
        remaining, i = plan.remaining, lo
        nxt = self.next_free
        open_day = -1  # a day known to have room for a chunk
        while remaining > 0 and i < plan.hi and len(chunks) < plan.max_chunks:
            i = nxt[i]
            if i >= plan.hi:
                break
            # A full day (or week) takes no chunk at any of its slots: skip it before measuring
            # free runs slot by slot (most of the work of a fit that fails on a crowded plan).
            day = self.grid.day_of[i]
            if day != open_day:
                if self._room(i, taken_day, taken_week) < plan.min_len:
                    i = max(i + 1, self.grid.days[day].hi)
                    continue
                open_day = day  # until a chunk is taken in it
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
                    open_day = -1
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

    def __init__(self, state: State, plan: TaskPlan) -> None:
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


def ancestors(grid: Grid, tid: str) -> set[str]:
    """Every task `tid` depends on, directly or through others."""
    deps = {t.id: t.depends_on for t in grid.problem.tasks}
    out: set[str] = set()
    stack = list(deps[tid])
    while stack:
        node = stack.pop()
        if node not in out:
            out.add(node)
            stack.extend(deps[node])
    return out
