"""An independent checker for any schedule against its problem.

It works on datetimes and intervals only, and shares no code with the solvers' slot grid, so
a discretisation mistake there shows up here. Fixed blocks (pinned, or previous blocks inside
the frozen horizon) are facts: they must be present unchanged, but the rules for placing new
work (working hours, busy time, deadlines, ...) are not applied to them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations

from .model import Block, Problem, Schedule, Task, Violation

Key = tuple[str, datetime, datetime]


def validate(problem: Problem, schedule: Schedule) -> list[Violation]:
    """Every broken rule in `schedule`, as a list of Violations (empty when it is valid)."""
    return _Checker(problem, schedule).run()


def _utc(when: datetime) -> datetime:
    # Aware datetimes sharing one tzinfo compare by wall clock; UTC makes it by instant.
    return when.astimezone(UTC)


def _key(task_id: str, start: datetime, end: datetime) -> Key:
    return task_id, _utc(start), _utc(end)


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


class _Checker:
    def __init__(self, problem: Problem, schedule: Schedule) -> None:
        self.p = problem
        self.tz = problem.tz
        self.blocks = sorted(schedule.blocks, key=lambda b: _utc(b.start))
        self.tasks = {t.id: t for t in problem.tasks}
        self.out: list[Violation] = []
        self.freeze_until = _utc(problem.now) + timedelta(hours=problem.frozen_hours)
        self.must_keep: dict[Key, str] = {}
        for task in problem.tasks:
            for pin in task.pinned:
                self.must_keep[_key(task.id, pin.start, pin.end)] = "pinned"
        for prev in problem.previous:
            if prev.task_id in self.tasks and _utc(prev.start) < self.freeze_until:
                self.must_keep.setdefault(_key(prev.task_id, prev.start, prev.end), "frozen")
        self.fixed = {
            id(b) for b in self.blocks if _key(b.task_id, b.start, b.end) in self.must_keep
        }

    def add(self, kind: str, message: str, *task_ids: str) -> None:
        self.out.append(Violation(kind, message, tuple(task_ids)))

    def is_new(self, block: Block) -> bool:
        return id(block) not in self.fixed

    def run(self) -> list[Violation]:
        present = {_key(b.task_id, b.start, b.end) for b in self.blocks}
        for key, what in self.must_keep.items():
            if key not in present:
                tid, start, _ = key
                self.add(f"{what}_moved", f"{what} block of {tid} at {start} is missing", tid)
        for block in self.blocks:
            if block.task_id not in self.tasks:
                self.add("unknown_task", f"block for unknown task {block.task_id}", block.task_id)
            elif self.is_new(block):
                self._placement(block, self.tasks[block.task_id])
        self._pairs()
        self._tasks()
        self._before_fixed()
        self._limits()
        return self.out

    def _placement(self, b: Block, task: Task) -> None:
        start, end, tid = _utc(b.start), _utc(b.end), b.task_id
        if start < max(_utc(self.p.horizon_start), self.freeze_until):
            self.add("outside_horizon", f"{tid} starts {start}, before it may be placed", tid)
        if end > _utc(self.p.horizon_end):
            self.add("outside_horizon", f"{tid} ends {end}, after the horizon", tid)
        if not self._in_working_hours(start, end):
            self.add("working_hours", f"{tid} {start}-{end} is outside working hours", tid)
        buffer = timedelta(minutes=self.p.buffer_minutes)
        for busy in self.p.busy:
            bs, be = _utc(busy.start), _utc(busy.end)
            if start < be and bs < end:
                self.add("busy_overlap", f"{tid} {start}-{end} overlaps busy {bs}-{be}", tid)
            elif start < be + buffer and bs - buffer < end:
                self.add("buffer", f"{tid} {start}-{end} is too close to busy {bs}-{be}", tid)
        if task.earliest_start is not None and start < _utc(task.earliest_start):
            self.add("earliest_start", f"{tid} starts before its earliest start", tid)
        if task.hard_deadline and task.deadline is not None and end > _utc(task.deadline):
            self.add("hard_deadline", f"{tid} ends {end}, after its hard deadline", tid)

    def _in_working_hours(self, start: datetime, end: datetime) -> bool:
        day = start.astimezone(self.tz).date()
        windows = sorted(
            (w.start, w.end) for w in self.p.working_hours if w.weekday == day.weekday()
        )
        merged: list[tuple[time, time]] = []
        for lo, hi in windows:  # back-to-back windows count as one stretch of work
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        for lo, hi in merged:
            w_lo = _utc(datetime.combine(day, lo, tzinfo=self.tz))
            w_hi = _utc(datetime.combine(day, hi, tzinfo=self.tz))
            if w_lo <= start and end <= w_hi:
                return True
        return False

    def _pairs(self) -> None:
        buffer = timedelta(minutes=self.p.buffer_minutes)
        for a, b in combinations(self.blocks, 2):
            if not (self.is_new(a) or self.is_new(b)):
                continue
            a0, a1, b0, b1 = _utc(a.start), _utc(a.end), _utc(b.start), _utc(b.end)
            ids = (a.task_id, b.task_id)
            if a0 < b1 and b0 < a1:
                self.add("overlap", f"{a.task_id} {a0}-{a1} overlaps {b.task_id} {b0}-{b1}", *ids)
            elif a0 < b1 + buffer and b0 - buffer < a1:
                if a.task_id == b.task_id and (a1 == b0 or b1 == a0):
                    continue  # touching chunks of one task are one block; lengths check it
                self.add("buffer", f"{a.task_id} and {b.task_id} are closer than the buffer", *ids)

    def _tasks(self) -> None:
        by_task: dict[str, list[Block]] = defaultdict(list)
        for b in self.blocks:
            by_task[b.task_id].append(b)
        for tid, task in self.tasks.items():
            blocks = by_task.get(tid, [])
            total = sum(b.minutes for b in blocks)
            if total > task.duration_minutes:
                self.add(
                    "over_duration",
                    f"{tid} has {total:g} min, more than its {task.duration_minutes}",
                    tid,
                )
            new = [b for b in blocks if self.is_new(b)]
            if not new:
                continue
            self._chunks(task, new, total - sum(b.minutes for b in new))
            for dep in task.depends_on:
                dep_blocks = by_task.get(dep, [])
                if sum(b.minutes for b in dep_blocks) < self.tasks[dep].duration_minutes:
                    self.add(
                        "dependency_unplaced",
                        f"{tid} is placed but {dep} is not fully placed",
                        tid,
                        dep,
                    )
                dep_end = max((_utc(b.end) for b in dep_blocks), default=None)
                first = min(_utc(b.start) for b in new)
                if dep_end is not None and first < dep_end:
                    self.add("dependency_order", f"{tid} starts before {dep} ends", tid, dep)

    def _before_fixed(self) -> None:
        """New work of a task ends before a dependent's fixed block that starts after the
        task's work may first start, a whole slot apart on the solver's grid (one that
        begins no later is a fact: the order is already past)."""
        opens = max(_utc(self.p.horizon_start), self.freeze_until)
        for b in self.blocks:
            if self.is_new(b) or b.task_id not in self.tasks or _utc(b.start) < opens:
                continue
            for dep in self.tasks[b.task_id].depends_on:
                if dep in self.tasks and not self._slot_after(b.start, self._first_start(dep)):
                    continue
                if any(
                    x.task_id == dep and self.is_new(x) and _utc(x.end) > _utc(b.start)
                    for x in self.blocks
                ):
                    self.add(
                        "dependency_order",
                        f"{dep} ends after {b.task_id}, fixed at {_utc(b.start)}, starts",
                        b.task_id,
                        dep,
                    )

    def _first_start(self, tid: str) -> datetime:
        """The earliest a task's new work may start: the horizon (or the frozen hours), its
        earliest start, and the end of any fixed block of what it depends on."""
        task, first = self.tasks[tid], max(_utc(self.p.horizon_start), self.freeze_until)
        if task.earliest_start is not None:
            first = max(first, _utc(task.earliest_start))
        for x in self.blocks:
            if x.task_id in task.depends_on and not self.is_new(x):
                first = max(first, _utc(x.end))
        return first

    def _slot_after(self, at: datetime, first: datetime) -> bool:
        """Whether the slot boundary at or before `at` lies after the one at or after
        `first` (slots counted from the first day's local midnight)."""
        slot = self.p.slot_minutes * 60
        day = self.p.horizon_start.astimezone(self.tz).date()
        origin = _utc(datetime.combine(day, time(0), tzinfo=self.tz))
        return (_utc(at) - origin).total_seconds() // slot > -(
            -(_utc(first) - origin).total_seconds() // slot
        )

    def _chunks(self, task: Task, new: list[Block], fixed_minutes: float) -> None:
        merged: list[list[datetime]] = []
        for b in new:
            if merged and merged[-1][1] == _utc(b.start):
                merged[-1][1] = _utc(b.end)
            else:
                merged.append([_utc(b.start), _utc(b.end)])
        remaining = task.duration_minutes - fixed_minutes
        lo, hi = task.chunk_bounds()
        if not task.splittable:
            if len(merged) > 1 or _minutes(*merged[0]) != remaining:
                self.add("chunk_length", f"{task.id} cannot split but is placed in pieces", task.id)
            return
        for start, end in merged:
            length = _minutes(start, end)
            if not min(lo, remaining) <= length <= hi:
                self.add(
                    "chunk_length",
                    f"{task.id} has a {length:g} min chunk outside {lo}-{hi} min",
                    task.id,
                )

    def _limits(self) -> None:
        per_day: dict[date, float] = defaultdict(float)
        new_days: set[date] = set()
        for b in self.blocks:
            for day, minutes in self._split_by_day(_utc(b.start), _utc(b.end)):
                per_day[day] += minutes
                if self.is_new(b):
                    new_days.add(day)
        cap = self.p.daily_max_minutes
        if cap is not None:
            for day in sorted(new_days):
                if per_day[day] > cap:
                    self.add(
                        "daily_max",
                        f"{per_day[day]:g} min scheduled on {day}, over the {cap} min maximum",
                    )
        per_week: dict[tuple[int, int], float] = defaultdict(float)
        for day, minutes in per_day.items():
            per_week[day.isocalendar()[:2]] += minutes
        for week in sorted({d.isocalendar()[:2] for d in new_days}):
            weekly = self.p.week_capacity_hours(week)
            if weekly is not None and per_week[week] > weekly * 60:
                self.add(
                    "weekly_capacity",
                    f"{per_week[week] / 60:g} h scheduled in "
                    f"week {week}, over the {weekly:g} h capacity",
                )

    def _split_by_day(self, start: datetime, end: datetime) -> list[tuple[date, float]]:
        out: list[tuple[date, float]] = []
        day = start.astimezone(self.tz).date()
        while True:
            lo = _utc(datetime.combine(day, time(0), tzinfo=self.tz))
            hi = _utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz))
            if lo >= end:
                return out
            if max(lo, start) < min(hi, end):
                out.append((day, _minutes(max(lo, start), min(hi, end))))
            day += timedelta(days=1)
