"""The slot grid shared by the greedy and CP-SAT schedulers.

Slot `i` covers [origin + i*slot, origin + (i+1)*slot), with `origin` the user's local midnight
on the first day of the horizon, in UTC. Index arithmetic is done in UTC on purpose: adding a
timedelta to a zoneinfo datetime is wall-clock arithmetic and goes wrong across DST changes.
The validator does not use this module, so it can catch mistakes made here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .model import Block, Problem, Task, UnplacedCause

Week = tuple[int, int]  # ISO (year, week)


@dataclass(frozen=True)
class Day:
    date: date
    lo: int  # first slot of the local day
    hi: int  # one past its last slot
    week: Week


@dataclass(frozen=True)
class WindowSlots:
    """A preferred window on one day, as slot indexes [lo, hi)."""

    lo: int
    hi: int
    weight: int
    tag: str | None


@dataclass
class TaskPlan:
    """What is left to place of one task, in slots."""

    task: Task
    remaining: int
    min_len: int
    max_len: int
    max_chunks: int
    lo: int  # chunks start at or after this slot
    hi: int  # and end at or before this one
    soft_deadline: int | None
    prev: list[tuple[int, int]] = field(default_factory=list)  # movable (start, length)
    cause: tuple[UnplacedCause, str] | None = None  # set when it cannot be placed at all
    # A pinned or frozen piece already ends after the deadline: nothing placed can meet it.
    late_fixed: bool = False
    # A pinned dependent whose pin ends this task's window (`hi`): its id, for the reasons.
    before: str = ""
    # A hard deadline's own slot: `hi` may end earlier (a pinned dependent), which bounds the
    # placement but is no deadline to count.
    due: int | None = None

    @property
    def min_chunks(self) -> int:
        return -(-self.remaining // self.max_len)

    def deadline_in(self, size: int) -> bool:
        """Whether the task has a deadline inside a horizon of `size` slots that a placement
        can still meet (one already passed by a pinned piece counts as neither met nor missed)."""
        if self.late_fixed:
            return False
        if self.soft_deadline is not None:
            return self.soft_deadline < size
        return self.due is not None and self.due < size


# Allowing a few more chunks than strictly needed lets a task fill gaps, without letting a
# splittable task explode into dozens of optional intervals.
EXTRA_CHUNKS = 2


@dataclass
class Grid:
    """The problem on slots; `build_grid` fills everything after `size`."""

    problem: Problem
    origin: datetime
    slot: timedelta
    size: int
    free: list[bool] = field(default_factory=list)
    run: list[int] = field(default_factory=list)  # free slots in a row starting here
    days: list[Day] = field(default_factory=list)
    day_of: list[int] = field(default_factory=list)  # index into `days`, -1 outside
    windows: list[WindowSlots] = field(default_factory=list)
    fixed: list[Block] = field(default_factory=list)  # pinned and frozen blocks
    fixed_minutes: dict[str, float] = field(default_factory=dict)
    day_cap: list[int] | None = None  # slots of new work allowed per day
    week_cap: dict[Week, int] | None = None
    billable_target: dict[Week, int] = field(default_factory=dict)  # hundredths of a slot
    plans: dict[str, TaskPlan] = field(default_factory=dict)
    topo: list[str] = field(default_factory=list)  # outside dependency cycles, deps first
    cyclic: set[str] = field(default_factory=set)

    @property
    def buffer_slots(self) -> int:
        return -(-self.problem.buffer_minutes // self.problem.slot_minutes)

    def floor_idx(self, when: datetime) -> int:
        return (when - self.origin) // self.slot

    def ceil_idx(self, when: datetime) -> int:
        return -((self.origin - when) // self.slot)

    def at(self, idx: int) -> datetime:
        return self.origin + idx * self.slot

    def on_grid(self, when: datetime) -> bool:
        return (when - self.origin) % self.slot == timedelta(0)


def build_grid(problem: Problem) -> Grid:
    """Discretise the problem: free slots, days, preferred windows, fixed blocks, task plans."""
    tz = problem.tz
    slot = timedelta(minutes=problem.slot_minutes)
    first = problem.horizon_start.astimezone(tz).date()
    last = problem.horizon_end.astimezone(tz).date()
    origin = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    size = max(0, -((origin - problem.horizon_end) // slot))
    grid = Grid(
        problem, origin, slot, size, free=[False] * size, run=[0] * size, day_of=[-1] * size
    )
    dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def span(lo_dt: datetime, hi_dt: datetime, outer: bool) -> range:
        # outer: every slot touching the span; inner: slots entirely inside it
        lo = grid.floor_idx(lo_dt) if outer else grid.ceil_idx(lo_dt)
        hi = grid.ceil_idx(hi_dt) if outer else grid.floor_idx(hi_dt)
        return range(max(lo, 0), min(hi, size))

    for day_date in dates:
        lo_dt = datetime.combine(day_date, time(0), tzinfo=tz)
        hi_dt = datetime.combine(day_date + timedelta(days=1), time(0), tzinfo=tz)
        days_range = span(lo_dt, hi_dt, outer=False)
        if days_range:
            grid.days.append(
                Day(day_date, days_range.start, days_range.stop, day_date.isocalendar()[:2])
            )
            for i in days_range:
                grid.day_of[i] = len(grid.days) - 1
        for ww in problem.working_hours:
            if ww.weekday == day_date.weekday():
                a = datetime.combine(day_date, ww.start, tzinfo=tz)
                for i in span(a, datetime.combine(day_date, ww.end, tzinfo=tz), outer=False):
                    grid.free[i] = True
        for pw in problem.preferred_windows:
            if pw.weekday == day_date.weekday():
                r = span(
                    datetime.combine(day_date, pw.start, tzinfo=tz),
                    datetime.combine(day_date, pw.end, tzinfo=tz),
                    outer=False,
                )
                if r:
                    grid.windows.append(WindowSlots(r.start, r.stop, pw.weight, pw.tag))

    # In UTC: adding hours to a zoneinfo datetime would add wall-clock hours.
    freeze_until = problem.now.astimezone(UTC) + timedelta(hours=problem.frozen_hours)
    placement_start = max(problem.horizon_start, freeze_until)
    for i in range(min(grid.ceil_idx(placement_start), size)):
        grid.free[i] = False
    buffer = timedelta(minutes=problem.buffer_minutes)
    for busy in problem.busy:
        for i in span(_utc(busy.start) - buffer, _utc(busy.end) + buffer, outer=True):
            grid.free[i] = False
    _collect_fixed(grid, freeze_until)
    for block in grid.fixed:
        for i in span(_utc(block.start) - buffer, _utc(block.end) + buffer, outer=True):
            grid.free[i] = False
    for i in range(size - 1, -1, -1):
        grid.run[i] = grid.run[i + 1] + 1 if grid.free[i] and i + 1 < size else int(grid.free[i])
    _capacities(grid)
    _order(grid)
    for task in problem.tasks:
        plan = _plan(grid, task, freeze_until)
        if plan is not None:
            grid.plans[task.id] = plan
    return grid


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def _collect_fixed(grid: Grid, freeze_until: datetime) -> None:
    tasks = {t.id: t for t in grid.problem.tasks}
    seen: set[tuple[str, datetime, datetime]] = set()
    for task in grid.problem.tasks:
        for pin in task.pinned:
            seen.add((task.id, pin.start, pin.end))
            grid.fixed.append(Block(task.id, 0, pin.start, pin.end, "pinned by you", True))
    for prev in grid.problem.previous:
        key = (prev.task_id, prev.start, prev.end)
        if prev.task_id in tasks and prev.start < freeze_until and key not in seen:
            seen.add(key)
            why = (
                "already started"
                if prev.start <= grid.problem.now
                else "kept: inside the frozen horizon"
            )
            grid.fixed.append(Block(prev.task_id, 0, prev.start, prev.end, why, True))
    grid.fixed.sort(key=lambda b: (b.start, b.task_id))
    for block in grid.fixed:
        grid.fixed_minutes[block.task_id] = grid.fixed_minutes.get(block.task_id, 0) + block.minutes


def _capacities(grid: Grid) -> None:
    problem = grid.problem
    slot_min = problem.slot_minutes
    billable = {t.id for t in problem.tasks if t.billable}
    # Fixed work counts against the limits of its whole local day and ISO week, even the part
    # that falls outside the horizon.
    date_fixed: dict[date, float] = defaultdict(float)
    week_fixed: dict[Week, float] = defaultdict(float)
    week_fixed_billable: dict[Week, float] = defaultdict(float)
    for block in grid.fixed:
        for day_date, minutes in _minutes_by_date(block, problem.tz):
            date_fixed[day_date] += minutes
            week_fixed[day_date.isocalendar()[:2]] += minutes
            if block.task_id in billable:
                week_fixed_billable[day_date.isocalendar()[:2]] += minutes
    day_fixed = [date_fixed[day.date] for day in grid.days]
    if problem.daily_max_minutes is not None:
        cap = problem.daily_max_minutes
        grid.day_cap = [max(0, int(cap - used) // slot_min) for used in day_fixed]
    weeks: dict[Week, int] = defaultdict(int)  # free plus fixed slots: what a week can hold
    for i, free in enumerate(grid.free):
        if free and grid.day_of[i] >= 0:
            weeks[grid.days[grid.day_of[i]].week] += 1
    for week, minutes in week_fixed.items():
        weeks[week] += int(minutes // slot_min)
    caps = {w: problem.week_capacity_hours(w) for w in weeks}
    if any(c is not None for c in caps.values()):
        # A week without a capacity holds all it can (its slots: never binding).
        grid.week_cap = {
            w: weeks[w] if c is None else max(0, int(c * 60 - week_fixed[w]) // slot_min)
            for w, c in caps.items()
        }
    share = problem.billable_share_target
    if share:
        for week, available in weeks.items():
            hours = caps[week]
            base = available if hours is None else min(available, hours * 60 / slot_min)
            done = week_fixed_billable[week] * 100 / slot_min
            grid.billable_target[week] = max(0, round(share * 100 * base - done))


def _minutes_by_date(block: Block, tz: ZoneInfo) -> list[tuple[date, float]]:
    out: list[tuple[date, float]] = []
    start, end = block.start.astimezone(UTC), block.end.astimezone(UTC)
    day = start.astimezone(tz).date()
    while True:
        lo = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        if lo >= end:
            return out
        if max(lo, start) < min(hi, end):
            out.append((day, (min(hi, end) - max(lo, start)).total_seconds() / 60))
        day += timedelta(days=1)


def _order(grid: Grid) -> None:
    """Topological order (Kahn); what is left over sits on or behind a dependency cycle."""
    deps = {t.id: set(t.depends_on) for t in grid.problem.tasks}
    users: dict[str, list[str]] = defaultdict(list)
    for tid, ds in deps.items():
        for d in ds:
            users[d].append(tid)
    waiting = {tid: len(ds) for tid, ds in deps.items()}
    ready = [tid for tid, n in waiting.items() if n == 0]
    while ready:
        tid = ready.pop()
        grid.topo.append(tid)
        for user in users[tid]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    left = set(deps) - set(grid.topo)
    for tid in left:
        stack, seen = list(deps[tid] & left), set()
        while stack:
            node = stack.pop()
            if node == tid:
                grid.cyclic.add(tid)
                break
            if node not in seen:
                seen.add(node)
                stack.extend(deps[node] & left)


def _plan(grid: Grid, task: Task, freeze_until: datetime) -> TaskPlan | None:
    problem, slot_min = grid.problem, grid.problem.slot_minutes
    remaining = int(task.duration_minutes - grid.fixed_minutes.get(task.id, 0)) // slot_min
    if remaining <= 0:
        return None
    lo_min, hi_min = task.chunk_bounds()
    min_len, max_len = min(lo_min // slot_min, remaining), min(hi_min // slot_min, remaining)
    if not task.splittable:
        min_len = max_len = remaining
    starts = [grid.ceil_idx(max(problem.horizon_start, freeze_until))]
    if task.earliest_start is not None:
        starts.append(grid.ceil_idx(task.earliest_start))
    for block in grid.fixed:
        if block.task_id in task.depends_on:
            starts.append(grid.ceil_idx(block.end))
    hi = min(grid.size, grid.floor_idx(problem.horizon_end))
    soft = due = None
    if task.deadline is not None:
        if task.hard_deadline:
            due = grid.floor_idx(task.deadline)
            hi = min(hi, due)
        else:
            soft = grid.floor_idx(task.deadline)
    lo = max(0, *starts)
    # A dependent pinned later than this task may start: it must end before that pin (one
    # that began earlier, or is frozen, is a fact already: it does not keep this task out).
    dependents, before = {t.id for t in problem.tasks if task.id in t.depends_on}, ""
    for block in grid.fixed:
        if block.task_id in dependents and lo < grid.floor_idx(block.start) < hi:
            hi, before = grid.floor_idx(block.start), block.task_id
    plan = TaskPlan(
        task,
        remaining,
        min_len,
        max_len,
        min(remaining // min_len, -(-remaining // max_len) + EXTRA_CHUNKS),
        lo,
        hi,
        soft,
        late_fixed=task.deadline is not None
        and any(b.task_id == task.id and b.end > task.deadline for b in grid.fixed),
        before=before,
        due=due,
    )
    for prev in sorted(problem.previous, key=lambda b: b.start):
        if prev.task_id == task.id and prev.start >= freeze_until and grid.on_grid(prev.start):
            plan.prev.append(
                (grid.floor_idx(prev.start), grid.ceil_idx(prev.end) - grid.floor_idx(prev.start))
            )
    plan.cause = _static_cause(grid, plan)
    return plan


def _static_cause(grid: Grid, plan: TaskPlan) -> tuple[UnplacedCause, str] | None:
    task = plan.task
    if task.id in grid.cyclic:
        return UnplacedCause.DEPENDENCY_CYCLE, "depends, through other tasks, on itself"
    if plan.hi <= plan.lo:
        if task.earliest_start is not None and plan.lo >= grid.floor_idx(grid.problem.horizon_end):
            return UnplacedCause.OUTSIDE_HORIZON, "it can only start after the horizon ends"
        return UnplacedCause.OUTSIDE_HORIZON, "its deadline is before it could start"
    if plan.min_chunks > plan.max_chunks:
        return UnplacedCause.CHUNKS_DO_NOT_FIT, (
            f"{plan.remaining * grid.problem.slot_minutes} min cannot be cut into chunks of "
            f"{plan.min_len * grid.problem.slot_minutes}-{plan.max_len * grid.problem.slot_minutes}"
            " min"
        )
    runs = [
        min(grid.run[i], plan.hi - i)
        for i in range(plan.lo, plan.hi)
        if grid.free[i] and (i == plan.lo or not grid.free[i - 1])
    ]
    if sum(r for r in runs if r >= plan.min_len) < plan.remaining:
        if max(runs, default=0) < plan.min_len <= sum(runs):
            what = "the task" if not task.splittable else "its shortest chunk"
            return UnplacedCause.LONGER_THAN_ANY_FREE_WINDOW, f"{what} fits no free window in reach"
        if task.hard_deadline:
            return UnplacedCause.NO_CAPACITY_BEFORE_DEADLINE, "not enough free time before it"
        if plan.before:
            why = f"not enough free time before {plan.before}, pinned, which depends on it"
            return UnplacedCause.NO_CAPACITY, why
        return UnplacedCause.NO_CAPACITY, "not enough free time in the horizon"
    if grid.day_cap is not None and plan.min_len > max(grid.day_cap, default=0):
        return UnplacedCause.LONGER_THAN_ANY_FREE_WINDOW, "a chunk exceeds the daily maximum"
    return None
