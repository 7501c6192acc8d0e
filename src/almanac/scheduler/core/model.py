"""Plain data for the scheduler core: the problem that goes in and the schedule that comes out.

Everything here is a frozen dataclass checked on construction, so both solvers and the
validator can trust their input. All datetimes must be timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def require_aware(name: str, value: datetime) -> None:
    """Raise ValueError naming `name` unless `value` is a timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _require_local_window(name: str, weekday: int, start: time, end: time) -> None:
    if not 0 <= weekday <= 6:
        raise ValueError(f"{name}.weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"{name}: start and end are wall-clock times without tzinfo")
    if not start < end:
        raise ValueError(f"{name}: start {start} must be before end {end} on the same day")


class _Span:
    """What intervals and blocks share: an aware [start, end), checked, and its length."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        name = type(self).__name__
        require_aware(f"{name}.start", self.start)
        require_aware(f"{name}.end", self.end)
        # Two times sharing a zoneinfo compare by the wall clock, so 02:30 before and after
        # the autumn change (the second has fold=1), an hour apart, read as equal: in UTC.
        start, end = self.start, self.end
        if start.fold or end.fold:
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        if not start < end:
            raise ValueError(f"{name}.start {self.start} must be before end {self.end}")

    @property
    def minutes(self) -> float:
        # Via UTC: subtracting two datetimes sharing a zoneinfo ignores a clock change.
        return (self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds() / 60


@dataclass(frozen=True)
class Interval(_Span):
    """A half-open span of time [start, end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class WorkingWindow:
    """Working time on one weekday (0 = Monday), in the user's wall-clock time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        _require_local_window("WorkingWindow", self.weekday, self.start, self.end)


@dataclass(frozen=True)
class PreferredWindow:
    """A recurring wall-clock window the user likes for some work (e.g. deep work mornings).

    `weight` scales the reward per slot of a chunk placed entirely inside the window; with
    `tag` set, only tasks carrying that tag earn it.
    """

    weekday: int
    start: time
    end: time
    weight: int = 10
    tag: str | None = None

    def __post_init__(self) -> None:
        _require_local_window("PreferredWindow", self.weekday, self.start, self.end)
        if self.weight < 0:
            raise ValueError(f"PreferredWindow.weight must be >= 0, got {self.weight}")


def office_hours(start: time = time(9), end: time = time(17, 30)) -> tuple[WorkingWindow, ...]:
    """Monday to Friday between `start` and `end`."""
    return tuple(WorkingWindow(day, start, end) for day in range(5))


@dataclass(frozen=True)
class Task:
    """One piece of work to place. Durations and chunk bounds are in minutes.

    A non-splittable task is placed as one block of its whole duration. `pinned` blocks are
    fixed by the user and count towards the duration; the rest is scheduled around them.
    """

    id: str
    title: str
    duration_minutes: int
    priority: int = 1
    splittable: bool = False
    min_chunk_minutes: int | None = None
    max_chunk_minutes: int | None = None
    earliest_start: datetime | None = None
    deadline: datetime | None = None
    hard_deadline: bool = False
    depends_on: tuple[str, ...] = ()
    billable: bool = False
    tags: tuple[str, ...] = ()
    pinned: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        name = f"task {self.id!r}"
        if not self.id:
            raise ValueError("task id must not be empty")
        if self.duration_minutes <= 0:
            raise ValueError(f"{name}: duration_minutes must be > 0")
        if self.priority < 1:
            raise ValueError(f"{name}: priority must be >= 1")
        for attr in ("earliest_start", "deadline"):
            value = getattr(self, attr)
            if value is not None:
                require_aware(f"{name}.{attr}", value)
        if self.earliest_start and self.deadline and self.earliest_start >= self.deadline:
            raise ValueError(f"{name}: earliest_start must be before deadline")
        if self.hard_deadline and self.deadline is None:
            raise ValueError(f"{name}: hard_deadline needs a deadline")
        lo, hi = self.chunk_bounds()
        if not 0 < lo <= hi:
            raise ValueError(f"{name}: need 0 < min_chunk_minutes <= max_chunk_minutes")
        if self.id in self.depends_on:
            raise ValueError(f"{name}: depends_on must not contain the task itself")
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "pinned", tuple(self.pinned))
        if sum(p.minutes for p in self.pinned) > self.duration_minutes:
            raise ValueError(f"{name}: pinned blocks exceed duration_minutes")

    def chunk_bounds(self) -> tuple[int, int]:
        """(min, max) minutes of one chunk; both equal the duration when not splittable."""
        if not self.splittable:
            return self.duration_minutes, self.duration_minutes
        lo = self.min_chunk_minutes if self.min_chunk_minutes is not None else 30
        hi = self.max_chunk_minutes if self.max_chunk_minutes is not None else 120
        return min(lo, self.duration_minutes), min(hi, self.duration_minutes)


@dataclass(frozen=True)
class Block(_Span):
    """A scheduled piece of a task. `fixed` blocks (pinned or frozen) were not moved."""

    task_id: str
    chunk: int
    start: datetime
    end: datetime
    reason: str = ""
    fixed: bool = False


@dataclass(frozen=True)
class Weights:
    """Objective weights, in points; placing one slot of priority-1 work is worth `place`.

    A task with a deadline inside the horizon that ends up late or unplaced costs
    `missed_deadline` times its priority; a soft deadline also costs `soft_late` times the
    priority per slot (of real time) late, capped at three quarters of the task's value so a
    late placement still beats none.
    """

    place: int = 1000
    preferred: int = 10  # per slot, times the window's weight
    missed_deadline: int = 10000
    soft_late: int = 10
    billable_shortfall: int = 1500  # per slot below the weekly billable target
    moved_block: int = 2000  # per block of the previous schedule not kept where it was
    extra_chunk: int = 50  # per chunk beyond a task's first

    def __post_init__(self) -> None:
        for name in (
            "place",
            "preferred",
            "missed_deadline",
            "soft_late",
            "billable_shortfall",
            "moved_block",
            "extra_chunk",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"Weights.{name} must be >= 0")


@dataclass(frozen=True)
class Problem:
    """Everything one scheduling run needs; `now` is an input, never read from a clock.

    Durations, chunk bounds and pinned blocks must be whole multiples of `slot_minutes`.
    `billable_share_target` (e.g. 0.6 while runway is short) is a soft target: each week's
    billable work should reach that share of the week's capacity, and shortfall is penalised.
    Blocks of `previous` that start before `now + frozen_hours` are kept as they are.
    """

    tasks: tuple[Task, ...]
    now: datetime
    horizon_start: datetime
    horizon_end: datetime
    timezone: str = "UTC"
    working_hours: tuple[WorkingWindow, ...] = field(default_factory=office_hours)
    busy: tuple[Interval, ...] = ()
    preferred_windows: tuple[PreferredWindow, ...] = ()
    buffer_minutes: int = 0
    daily_max_minutes: int | None = None
    weekly_capacity_hours: float | None = None  # every week ("max 40 h a week")
    # One week's own capacity (its Monday, hours): a sprint's, for that week alone (one
    # sprint's 8 h capped every week of a two-week solve). The smaller of the two holds.
    capacity_by_week: tuple[tuple[date, float], ...] = ()
    billable_share_target: float | None = None
    frozen_hours: float = 0.0
    previous: tuple[Block, ...] = ()
    # Blocks of these tasks whose calendar events stay outside this solve (past blocks):
    # their chunk numbers are not given to other blocks (core/explain.py, number_blocks).
    held: tuple[Block, ...] = ()
    # "repair": a replan moves what the change broke (see core/repair.py); "full": the
    # whole calendar is re-optimised, previous blocks kept only at the stability cost.
    replan_scope: Literal["repair", "full"] = "repair"
    # Tasks this request newly places (a plan scheduled for the first time): a repair may
    # move other blocks for their place and deadlines at the stability cost alone, as for
    # what the change cost (see core/repair.py, Restore). Ids of tasks without previous blocks.
    new_tasks: tuple[str, ...] = ()
    slot_minutes: int = 15
    time_limit_seconds: float = 3.0
    # Stop once the best solution has not improved for this long (None: use the time limit).
    idle_seconds: float | None = 0.3
    num_workers: int = 2
    random_seed: int = 0
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        for attr in (
            "tasks",
            "working_hours",
            "busy",
            "preferred_windows",
            "previous",
            "held",
            "capacity_by_week",
        ):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        for attr in ("now", "horizon_start", "horizon_end"):
            require_aware(attr, getattr(self, attr))
        if not self.horizon_start < self.horizon_end:
            raise ValueError("horizon_start must be before horizon_end")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown IANA zone {self.timezone!r}") from exc
        if self.slot_minutes <= 0 or 60 % self.slot_minutes:
            raise ValueError("slot_minutes must divide 60 (e.g. 5, 10, 15, 30, 60)")
        self._check_numbers()
        self._check_tasks()

    def week_capacity_hours(self, week: tuple[int, int]) -> float | None:
        """The capacity of ISO `week` (year, week): its own and every week's, the smaller."""
        caps = [h for monday, h in self.capacity_by_week if monday.isocalendar()[:2] == week]
        if self.weekly_capacity_hours is not None:
            caps.append(self.weekly_capacity_hours)
        return min(caps, default=None)

    def _check_numbers(self) -> None:
        if self.buffer_minutes < 0:
            raise ValueError("buffer_minutes must be >= 0")
        if self.daily_max_minutes is not None and self.daily_max_minutes <= 0:
            raise ValueError("daily_max_minutes must be > 0")
        if self.weekly_capacity_hours is not None and self.weekly_capacity_hours <= 0:
            raise ValueError("weekly_capacity_hours must be > 0")
        if any(hours <= 0 for _, hours in self.capacity_by_week):
            raise ValueError("capacity_by_week: every capacity must be > 0")
        share = self.billable_share_target
        if share is not None and not 0 <= share <= 1:
            raise ValueError("billable_share_target must be between 0 and 1")
        if self.frozen_hours < 0:
            raise ValueError("frozen_hours must be >= 0")
        if self.time_limit_seconds <= 0:
            raise ValueError("time_limit_seconds must be > 0")
        if self.idle_seconds is not None and self.idle_seconds <= 0:
            raise ValueError("idle_seconds must be > 0")
        if self.num_workers < 1:
            raise ValueError("num_workers must be >= 1")
        if self.replan_scope not in ("repair", "full"):
            raise ValueError("replan_scope must be 'repair' or 'full'")
        object.__setattr__(self, "new_tasks", tuple(self.new_tasks))
        if not set(self.new_tasks) <= {t.id for t in self.tasks}:
            raise ValueError("new_tasks: unknown task ids")

    def _check_tasks(self) -> None:
        ids = [t.id for t in self.tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("tasks: task ids must be unique")
        known = set(ids)
        slot = self.slot_minutes
        for task in self.tasks:
            name = f"task {task.id!r}"
            for dep in task.depends_on:
                if dep not in known:
                    raise ValueError(f"{name}.depends_on: unknown task {dep!r}")
            lo, hi = task.chunk_bounds()
            for label, value in (
                ("duration_minutes", task.duration_minutes),
                ("min_chunk_minutes", lo),
                ("max_chunk_minutes", hi),
            ):
                if value % slot:
                    raise ValueError(f"{name}.{label} must be a multiple of {slot} minutes")
            for pin in task.pinned:
                if pin.minutes % slot:
                    raise ValueError(f"{name}.pinned must be multiples of {slot} minutes")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class UnplacedCause(StrEnum):
    """Why a task (or what was left of it) got no time."""

    NO_CAPACITY_BEFORE_DEADLINE = "no capacity before the deadline"
    NO_CAPACITY = "no capacity in the horizon"
    DEPENDENCY_UNPLACED = "a dependency is unplaced"
    DEPENDENCY_CYCLE = "the task is part of a dependency cycle"
    LONGER_THAN_ANY_FREE_WINDOW = "longer than any free window"
    CHUNKS_DO_NOT_FIT = "chunk bounds cannot divide the remaining duration"
    OUTSIDE_HORIZON = "outside the horizon"


@dataclass(frozen=True)
class Unplaced:
    task_id: str
    cause: UnplacedCause
    detail: str = ""


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # CP-SAT found a solution but did not prove it optimal in time
    GREEDY = "greedy"  # the greedy scheduler was asked for directly
    GREEDY_FALLBACK = "greedy fallback"  # CP-SAT found nothing in time; greedy answer returned


@dataclass(frozen=True)
class Floor:
    """A simple baseline's figure the answer must reach (see `core/floors.py`)."""

    measure: str  # "weighted hours" or "deadlines met"
    baseline: str  # the baseline that set it: "greedy", "edf" or "edf-own"
    floor: float
    value: float  # the answer's figure
    reached: bool
    why: str = ""  # when not reached: why no schedule reaching it was returned


@dataclass(frozen=True)
class Schedule:
    """The answer: blocks in time order, what could not be placed and how the solve went."""

    blocks: tuple[Block, ...]
    unplaced: tuple[Unplaced, ...]
    status: SolveStatus
    objective_value: float | None = None
    best_bound: float | None = None
    relative_gap: float | None = None
    wall_time_seconds: float = 0.0
    solver_status: str = ""  # raw CP-SAT status name, for logs
    # Which answer this is: "cp-sat", or the baseline returned instead ("edf", "greedy",
    # "both-floors", ...: `baselines.candidates`; on a replan the simple repair, "repair-edf" or
    # "repair-greedy"); and why the search stopped ("optimal", "no improvement", "time limit").
    source: str = ""
    stopped: str = ""
    floors: tuple[Floor, ...] = ()
    # For a replan: "repair" (only what the change broke moved), "widened" (a repair that
    # also moved blocks to win back what the change cost) or "full" (asked for: re-optimised).
    scope: str = ""
    # Widened: the tasks whose place or deadline, lost by the repair, the moves won back.
    restored: tuple[str, ...] = ()

    def blocks_for(self, task_id: str) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.task_id == task_id)

    @property
    def placed_task_ids(self) -> frozenset[str]:
        return frozenset(b.task_id for b in self.blocks)


@dataclass(frozen=True)
class Violation:
    """One broken rule found by the validator."""

    kind: str
    message: str
    task_ids: tuple[str, ...] = ()
