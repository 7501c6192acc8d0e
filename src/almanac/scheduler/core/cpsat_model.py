"""The CP-SAT model on the slot grid: one optional interval per possible chunk of a task.

Free time is enforced by putting every non-free stretch in the same no-overlap constraint as
the chunks, which lets chunk lengths vary. Buffers get their own no-overlap over chunks widened
by the buffer. Objective terms are in points (see `Weights`) times `scale`; the remaining unit
is a tie-break towards finishing each task early.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .explain import Placement
from .grid import Grid, TaskPlan, Week

IntVar = cp_model.IntVar

# Points are multiplied by this, and each task's end slot is subtracted once: finishing early
# is then worth a few points at most (horizon slots / 100), far below any placed slot, and the
# billable shortfall can be counted in hundredths of a slot.
_SCALE = 100


@dataclass
class ChunkVars:
    present: IntVar
    start: IntVar
    size: IntVar | int  # an int when the chunk length is fixed
    end: cp_model.LinearExprT
    starts: list[int]  # allowed start slots, sorted
    # (days of one limit group, membership flag, load in it) per group the chunk may start in
    days: list[tuple[tuple[int, ...], IntVar | None, IntVar | None]] = field(default_factory=list)
    windows: list[tuple[int, IntVar, IntVar | None]] = field(default_factory=list)


@dataclass
class TaskVars:
    plan: TaskPlan
    placed: IntVar
    end: IntVar
    chunks: list[ChunkVars] = field(default_factory=list)
    late: tuple[int, int, IntVar, IntVar] | None = None  # deadline, cap, late, overflow
    missed: IntVar | None = None
    same: list[tuple[int, int, IntVar]] = field(default_factory=list)  # prev j, chunk k


def _sum(terms: Sequence[cp_model.LinearExprT]) -> cp_model.LinearExpr:
    return cp_model.LinearExpr.sum(list(terms))


def _ranges(values: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


class ModelBuilder:
    """Builds the model for a grid; `extract` reads a placement back from a solver."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.model = cp_model.CpModel()
        self.tasks: dict[str, TaskVars] = {}
        self.scale = _SCALE
        self.terms: list[tuple[int, IntVar]] = []  # already multiplied by scale
        self.constant = 0  # points
        self.shortfall: dict[Week, tuple[int, IntVar]] = {}
        self.intervals: list[cp_model.IntervalVar] = []
        self.padded: list[cp_model.IntervalVar] = []  # chunks widened by the buffer
        self._start_cache: dict[
            tuple[int, int, int], tuple[list[int], cp_model.Domain, list[int]]
        ] = {}

    def _starts(self, plan: TaskPlan) -> tuple[list[int], cp_model.Domain, list[int]]:
        """Allowed chunk starts, their domain and their days; shared by tasks alike in reach
        (building these per task was a third of the model's build time at 300 tasks)."""
        key = (plan.lo, plan.hi, plan.min_len)
        if key not in self._start_cache:
            grid = self.grid
            starts = [
                s for s in range(plan.lo, plan.hi - plan.min_len + 1) if grid.run[s] >= plan.min_len
            ]
            days = sorted({grid.day_of[s] for s in starts})
            self._start_cache[key] = (starts, cp_model.Domain.from_intervals(_ranges(starts)), days)
        return self._start_cache[key]

    def points(self, coef: int, var: IntVar) -> None:
        self.terms.append((coef * self.scale, var))

    def build(self) -> None:
        weights = self.grid.problem.weights
        for plan in self.grid.plans.values():
            if plan.cause is None:
                self._task(plan)
            else:
                self.constant -= weights.moved_block * len(plan.prev)
        self._dependencies()
        self._no_overlap()
        self._capacity()
        self._windows()
        self.refresh_objective()

    def refresh_objective(self) -> None:
        """(Re)set the objective from `terms`, after a caller added some."""
        ends = [tv.end for tv in self.tasks.values()]
        objective = cp_model.LinearExpr.weighted_sum(
            [v for _, v in self.terms] + ends, [c for c, _ in self.terms] + [-1] * len(ends)
        )
        self.model.maximize(objective + self.constant * self.scale)

    def _task(self, plan: TaskPlan) -> None:
        m, grid, w = self.model, self.grid, self.grid.problem.weights
        tid, fixed_len = plan.task.id, plan.min_len == plan.max_len
        starts, domain, _ = self._starts(plan)
        placed = m.new_bool_var(f"placed[{tid}]")
        tv = TaskVars(plan, placed, m.new_int_var(0, plan.hi, f"end[{tid}]"))
        self.points(w.place * plan.task.priority * plan.remaining, placed)
        gap = max(grid.buffer_slots, 1)
        for k in range(plan.max_chunks):
            name = f"{tid}#{k}"
            if k < plan.min_chunks:
                present = placed
            else:
                present = m.new_bool_var(f"present[{name}]")
                m.add_implication(present, tv.chunks[-1].present)
            if k > 0:
                self.points(-w.extra_chunk, present)
            start = m.new_int_var_from_domain(domain, f"start[{name}]")
            size: IntVar | int
            if fixed_len:
                size = plan.min_len
                end: cp_model.LinearExprT = start + size
                interval = m.new_optional_fixed_size_interval_var(start, size, present, name)
            else:
                size = m.new_int_var(0, plan.max_len, f"size[{name}]")
                m.add(size >= plan.min_len).only_enforce_if(present)
                m.add(size == 0).only_enforce_if(~present)
                end = m.new_int_var(plan.lo, plan.hi, f"chunk_end[{name}]")
                interval = m.new_optional_interval_var(start, size, end, present, name)
            self.intervals.append(interval)
            if grid.buffer_slots:
                self.padded.append(
                    m.new_optional_interval_var(
                        start, size + grid.buffer_slots, end + grid.buffer_slots, present, name
                    )
                )
            if k > 0:
                m.add(start >= tv.chunks[-1].end + gap).only_enforce_if(present)
            m.add(tv.end >= end).only_enforce_if(present)
            tv.chunks.append(ChunkVars(present, start, size, end, starts))
        if fixed_len:
            m.add(_sum([plan.min_len * c.present for c in tv.chunks]) == plan.remaining * placed)
        else:
            m.add(_sum([c.size for c in tv.chunks]) == plan.remaining * placed)
        self._deadline(tv)
        self._stability(tv)
        self.tasks[tid] = tv

    def _deadline(self, tv: TaskVars) -> None:
        plan, w, m = tv.plan, self.grid.problem.weights, self.model
        if w.missed_deadline and plan.deadline_in(self.grid.size):
            tv.missed = m.new_bool_var(f"missed[{plan.task.id}]")
            m.add_implication(~tv.placed, tv.missed)
            if plan.soft_deadline is not None:
                m.add(tv.end <= plan.soft_deadline).only_enforce_if(~tv.missed)
            self.points(-w.missed_deadline * plan.task.priority, tv.missed)
        per_slot = w.soft_late * plan.task.priority
        if plan.soft_deadline is None or plan.soft_deadline >= plan.hi or per_slot == 0:
            return
        # Capped below the task's value, so placing it late always beats leaving it out.
        cap = w.place * plan.task.priority * plan.remaining * 3 // 4
        late = self.model.new_int_var(0, cap // per_slot, f"late[{plan.task.id}]")
        over = self.model.new_bool_var(f"very_late[{plan.task.id}]")
        self.model.add(late >= tv.end - plan.soft_deadline).only_enforce_if(~over)
        self.points(-per_slot, late)
        self.points(-cap, over)
        tv.late = (plan.soft_deadline, cap // per_slot, late, over)

    def _stability(self, tv: TaskVars) -> None:
        moved = self.grid.problem.weights.moved_block
        plan = tv.plan
        self.constant -= moved * len(plan.prev)
        # A previous block counts as kept by whichever chunk lands exactly on it: when a
        # meeting takes one chunk, the others keep their places though their numbers shift.
        for j, (start, length) in enumerate(plan.prev):
            if not plan.min_len <= length <= plan.max_len:
                continue
            for k in range(max(0, j - 2), min(len(tv.chunks), j + 3)):
                chunk = tv.chunks[k]
                i = bisect.bisect_left(chunk.starts, start)
                if i == len(chunk.starts) or chunk.starts[i] != start:
                    continue
                same = self.model.new_bool_var(f"same[{plan.task.id}#{k}={j}]")
                self.model.add_implication(same, chunk.present)
                self.model.add(chunk.start == start).only_enforce_if(same)
                if not isinstance(chunk.size, int):
                    self.model.add(chunk.size == length).only_enforce_if(same)
                elif chunk.size != length:
                    self.model.add(same == 0)
                self.points(moved, same)
                tv.same.append((j, k, same))

    def _dependencies(self) -> None:
        for tv in self.tasks.values():
            for dep in tv.plan.task.depends_on:
                if dep in self.tasks:
                    self.model.add_implication(tv.placed, self.tasks[dep].placed)
                    first = tv.chunks[0]
                    self.model.add(first.start >= self.tasks[dep].end).only_enforce_if(tv.placed)
                elif dep in self.grid.plans:  # a dependency that cannot be placed at all
                    self.model.add(tv.placed == 0)

    def _no_overlap(self) -> None:
        blocked = []
        free, size = self.grid.free, self.grid.size
        i = 0
        while i < size:
            if free[i]:
                i += 1
                continue
            j = i
            while j < size and not free[j]:
                j += 1
            blocked.append(self.model.new_fixed_size_interval_var(i, j - i, f"blocked@{i}"))
            i = j
        self.model.add_no_overlap(self.intervals + blocked)
        if self.padded:
            self.model.add_no_overlap(self.padded)

    def _capacity(self) -> None:
        """Daily maximum, weekly capacity and billable target over all chunks.

        A chunk gets one membership flag per group of days it may start in: a day whose free
        time exceeds its cap is its own group, the other days of a week share one (weekly
        limits need no finer split), and days no limit can bind share a last group. At 300
        tasks over six weeks this is a few flags per chunk instead of one per day.
        """
        grid = self.grid
        if grid.day_cap is None and grid.week_cap is None and not grid.billable_target:
            return
        m = self.model
        free = [0] * len(grid.days)
        for i, is_free in enumerate(grid.free):
            if is_free and grid.day_of[i] >= 0:
                free[grid.day_of[i]] += 1
        cap = grid.day_cap
        binding = {d for d in range(len(grid.days)) if cap is not None and free[d] > cap[d]}
        weekly = grid.week_cap is not None or bool(grid.billable_target)

        def group(d: int) -> tuple[str, object]:
            if d in binding:
                return ("day", d)
            return ("week", grid.days[d].week) if weekly else ("none", 0)

        day_load: dict[int, list[cp_model.LinearExprT]] = defaultdict(list)
        week_load: dict[Week, list[cp_model.LinearExprT]] = defaultdict(list)
        billable_load: dict[Week, list[cp_model.LinearExprT]] = defaultdict(list)
        for tv in self.tasks.values():
            tid = tv.plan.task.id
            for k, chunk in enumerate(tv.chunks):
                groups: dict[tuple[str, object], list[int]] = {}
                for d in self._starts(tv.plan)[2]:
                    groups.setdefault(group(d), []).append(d)
                for key, ds in groups.items():
                    amount: IntVar | None = None
                    if len(groups) == 1:
                        on = None
                        load: cp_model.LinearExprT = (
                            chunk.size
                            if not isinstance(chunk.size, int)
                            else chunk.size * chunk.present
                        )
                    else:
                        on = m.new_bool_var(f"on[{tid}#{k}@{key}]")
                        spans = [[grid.days[d].lo, grid.days[d].hi - 1] for d in ds]
                        m.add_linear_expression_in_domain(
                            chunk.start, cp_model.Domain.from_intervals(spans)
                        ).only_enforce_if(on)
                        if isinstance(chunk.size, int):
                            load = chunk.size * on
                        else:
                            amount = m.new_int_var(0, tv.plan.max_len, f"amount[{tid}#{k}@{key}]")
                            m.add(amount == 0).only_enforce_if(~on)
                            load = amount
                    chunk.days.append((tuple(ds), on, amount))
                    if key[0] == "none":
                        continue
                    week = grid.days[ds[0]].week
                    if key[0] == "day":
                        day_load[ds[0]].append(load)
                    week_load[week].append(load)
                    if tv.plan.task.billable:
                        billable_load[week].append(load)
                if len(groups) > 1:
                    m.add(_sum([on for _, on, _ in chunk.days if on is not None]) == chunk.present)
                    if not isinstance(chunk.size, int):
                        m.add(_sum([a for _, _, a in chunk.days if a is not None]) == chunk.size)
        if cap is not None:
            for d, loads in day_load.items():
                m.add(_sum(loads) <= cap[d])
        weight = grid.problem.weights.billable_shortfall
        for week in sorted({day.week for day in grid.days}):
            if grid.week_cap is not None and week_load[week]:
                m.add(_sum(week_load[week]) <= grid.week_cap.get(week, 0))
            target = grid.billable_target.get(week, 0)
            if target > 0:
                short = m.new_int_var(0, target, f"billable_short[{week}]")
                m.add(100 * _sum(billable_load[week]) + short >= target)
                self.terms.append((-weight * (self.scale // 100), short))
                self.shortfall[week] = (target, short)

    def _windows(self) -> None:
        grid, m = self.grid, self.model
        per_weight = grid.problem.weights.preferred
        for tv in self.tasks.values():
            plan = tv.plan
            for k, chunk in enumerate(tv.chunks):
                for n, win in enumerate(grid.windows):
                    if win.weight == 0 or win.hi - win.lo < plan.min_len:
                        continue
                    if win.tag is not None and win.tag not in plan.task.tags:
                        continue
                    i = bisect.bisect_left(chunk.starts, win.lo)
                    if i == len(chunk.starts) or chunk.starts[i] > win.hi - plan.min_len:
                        continue
                    inside = m.new_bool_var(f"in[{plan.task.id}#{k}@w{n}]")
                    m.add_implication(inside, chunk.present)
                    m.add(chunk.start >= win.lo).only_enforce_if(inside)
                    m.add(chunk.end <= win.hi).only_enforce_if(inside)
                    reward = None
                    if isinstance(chunk.size, int):
                        self.points(per_weight * win.weight * chunk.size, inside)
                    else:
                        reward = m.new_int_var(0, min(plan.max_len, win.hi - win.lo), f"r{n}")
                        m.add(reward == 0).only_enforce_if(~inside)
                        self.points(per_weight * win.weight, reward)
                    chunk.windows.append((n, inside, reward))
                if len(chunk.windows) > 1:
                    m.add_at_most_one(inside for _, inside, _ in chunk.windows)
                rewards = [r for _, _, r in chunk.windows if r is not None]
                if rewards and not isinstance(chunk.size, int):
                    m.add(_sum(rewards) <= chunk.size)

    def extract(self, solver: cp_model.CpSolver) -> Placement:
        """Chunks per placed task, in time order, from a solved model."""
        out: Placement = {}
        for tid, tv in self.tasks.items():
            if solver.boolean_value(tv.placed):
                chunks = [
                    (int(solver.value(c.start)), int(solver.value(c.size)))
                    for c in tv.chunks
                    if solver.boolean_value(c.present)
                ]
                out[tid] = sorted(chunks)
        return out
