"""Request and response shapes of the scheduler API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from almanac.planner.schemas import PlanOut
from almanac.types import (
    NOT_BOOL,
    AwareDatetime,
    BigId,
    BoundedDate,
    Strict,
    near_now,
)

PlanId = Annotated[int, Field(ge=1, le=2**63 - 1), NOT_BOOL]
# The most days one solve places blocks over, and the furthest ahead it may start: a
# schedule for next year is planning, one for 2199 a typo. A block moved by hand stays
# where a schedule could have placed it (a window may begin in the past as long as it
# reaches today), so a move never pins work, or reads the calendar, decades away.
MAX_HORIZON_DAYS = 60
MAX_START_AHEAD_DAYS = 366
_START_AHEAD = timedelta(days=MAX_START_AHEAD_DAYS)
BlockTime = Annotated[
    AwareDatetime,
    near_now(
        timedelta(days=MAX_HORIZON_DAYS),
        _START_AHEAD + timedelta(days=MAX_HORIZON_DAYS),
        "where a schedule can place a block",
    ),
]
# The least daily cap a preference may set: one 15-minute slot (the default grid). Below
# it no block fits in a day and every task is left unplaced, which no one asks for.
MIN_DAILY_CAP_HOURS = 0.25
# How much of the calendar a solve may move when blocks are already written: "repair" moves
# what the change broke (and wins back what it cost, a bounded number of moves per item);
# "full" re-optimises every plan's blocks at the stability cost (ARCHITECTURE.md "Stability").
ReplanScope = Literal["repair", "full"]
SCOPE_HELP = (
    "repair (default): move what the change broke and what must follow it, and win back "
    "what it cost with a bounded number of moves; full: re-optimise every plan's blocks"
)


class ScheduleIn(Strict):
    """Place an approved (or re-place a scheduled) plan's tasks."""

    plan_id: PlanId
    start_date: BoundedDate | None = None  # default: today in the user's zone
    horizon_days: Annotated[int, Field(ge=1, le=MAX_HORIZON_DAYS), NOT_BOOL] = 14
    dry_run: bool = True
    run_id: BigId | None = Field(
        None,
        description="A preview's run_id: with dry_run=false, write exactly that preview; 409 "
        "if the calendar changed since, 422 if start_date, horizon_days or scope is sent and "
        "differs from the preview's",
    )
    scope: ReplanScope = Field("repair", description=SCOPE_HELP)

    @field_validator("start_date")
    @classmethod
    def _not_too_far(cls, value: date | None) -> date | None:
        # A window wholly in the past is the service's 422 (it knows the user's today).
        if value is not None and value > datetime.now(UTC).date() + _START_AHEAD:
            raise ValueError(f"must not be more than {MAX_START_AHEAD_DAYS} days ahead")
        return value


class ReplanIn(Strict):
    """Re-solve a scheduled plan, keeping what can stay where it was."""

    plan_id: PlanId
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    dry_run: bool = True
    run_id: BigId | None = Field(
        None,
        description="A replan preview's run_id: with dry_run=false, write exactly that "
        "preview; 409 if the calendar changed since, 422 if scope differs or the run is "
        "a /schedule preview",
    )
    scope: ReplanScope = Field("repair", description=SCOPE_HELP)


class BlockOut(BaseModel):
    almanac_id: str
    plan_id: int = 0
    task_key: str
    title: str
    chunk: int
    start: datetime
    end: datetime
    reason: str
    fixed: bool = False


class UnplacedOut(BaseModel):
    plan_id: int = 0
    task_key: str
    title: str
    cause: str
    detail: str = ""


class FloorOut(BaseModel):
    """A simple baseline's figure the answer must reach when any schedule can."""

    measure: str  # "weighted hours" or "deadlines met"
    baseline: str  # "greedy" (priority first), "edf" or "edf-own" (earliest deadline first)
    floor: float
    value: float
    reached: bool
    why: str = ""


class SolverOut(BaseModel):
    status: str
    objective: float | None
    best_bound: float | None
    gap: float | None
    wall_time_seconds: float
    solver_status: str
    source: str = ""  # "cp-sat", or the baseline returned instead ("edf", "greedy", ...)
    stopped: str = ""  # "optimal", "no improvement" or "time limit"
    floors: list[FloorOut] = Field(default_factory=list)
    # Replans: "repair" (only what the change broke moved), "widened" (also moved blocks to
    # win back what the change cost; each such move names it) or "full" (asked for, or a
    # schedule of new work re-optimising the calendar to reach the plain baselines); "" for
    # a first one.
    scope: str = ""


class PreferenceSource(BaseModel):
    """One remembered preference or constraint and what the rules read from it."""

    fact_id: int
    text: str
    applied: list[str] = Field(default_factory=list)  # both empty: not understood by the rules
    ignored: list[str] = Field(default_factory=list)  # understood but not applied, and why


class PreferencesOut(BaseModel):
    """Which preferences shaped the run, how they were read and which memories they came from."""

    applied: list[str] = Field(default_factory=list)
    memories: list[PreferenceSource] = Field(default_factory=list)
    llm_used: bool = False
    # "stored": memory could not be read; the preferences of the newest run that read them
    source: Literal["defaults", "rules", "llm", "stored"] = "defaults"


class CalendarWriteOut(BaseModel):
    provider: str
    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    # True when the calendar was unavailable: the schedule is saved and a job writes it
    # there once the calendar answers; `detail` says why and which job.
    pending: bool = False
    detail: str | None = None


class BlockChangeOut(BaseModel):
    """A future block freed or shortened because its task or plan no longer needs it."""

    almanac_id: str
    plan_id: int
    task_key: str
    change: Literal["freed", "shortened"]
    start: datetime
    end: datetime  # as it was
    new_end: datetime | None = None  # when shortened


class BlockChanges(BaseModel):
    """Blocks freed or shortened, and the calendar write (None when nothing changed)."""

    blocks: list[BlockChangeOut] = Field(default_factory=list)
    calendar: CalendarWriteOut | None = None


class PlanStatusOut(PlanOut):
    """The plan after a status change; closing it frees its future blocks."""

    freed_blocks: list[BlockChangeOut] = Field(default_factory=list)
    calendar: CalendarWriteOut | None = None  # `pending` when a remote calendar is down
    # Cancelling it cancels its tasks not yet closed (done ones stay done).
    cancelled_task_ids: list[int] = Field(default_factory=list)


class SpanOut(BaseModel):
    start: datetime
    end: datetime


class MoveOut(BaseModel):
    """A block of the previous schedule that is not where it was."""

    plan_id: int = 0
    task_key: str
    title: str
    from_start: datetime
    from_end: datetime
    to_start: datetime | None
    to_end: datetime | None
    # More new places of the block's hours: split around what it now overlaps, it goes to
    # `to_start`..`to_end` and these.
    also_to: list[SpanOut] = Field(default_factory=list)
    why: str


class ScheduleOut(BaseModel):
    run_id: int
    plan_id: int
    plan_status: str
    dry_run: bool
    applied: bool  # True when the calendar and the tasks were written
    # True when a preview applied before was sent again (a retry): this is the first
    # write's answer, and nothing was written now.
    replayed: bool = False
    timezone: str
    window_start: datetime
    window_end: datetime
    blocks: list[BlockOut]
    unplaced: list[UnplacedOut]
    solver: SolverOut
    preferences: PreferencesOut
    violations: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    calendar: CalendarWriteOut | None = None
    # Blocks of every plan (this one and others) that are not where they were, and why.
    moves: list[MoveOut] = Field(default_factory=list)
    moved_share: float = 0.0
    # What `moved_share` is of: the blocks of every plan the solve could move (not pinned).
    moved_of: int = 0
    # New blocks of other plans (work their last schedule left out, placed in free time):
    # written with this schedule too, so the preview shows them.
    placed: list[BlockOut] = Field(default_factory=list)


class ReplanOut(ScheduleOut):
    reason: str | None = None
    previous_run_id: int | None = None


class CalendarEventOut(BaseModel):
    id: str  # the almanac_id for Almanac's blocks, else the event's UID
    uid: str
    title: str
    start: datetime
    end: datetime
    almanac: bool
    busy: bool
    all_day: bool = False
    client_id: int | None = None  # an Almanac block's plan's client; None for events
    # What this event overlaps; for a block also the working hours or deadline it breaks.
    conflicts: list[str] = Field(default_factory=list)
    # Stored by the calendar sync on a block when it found a collision it cannot resolve.
    warnings: list[str] = Field(default_factory=list)


class DayLimitOut(BaseModel):
    """The most hours of Almanac's blocks a day holds, and what sets it: the user's daily
    maximum (remembered or set) or, below it, that weekday's working hours; none on a day
    without working hours ("day off")."""

    day: date
    hours: float
    limit: Literal["daily max", "working hours", "day off"]


class CalendarOut(BaseModel):
    start: datetime
    end: datetime
    provider: str
    events: list[CalendarEventOut]
    # Per day of the window with a limit (a day off without a daily max has none): what
    # reflections and sprint reports call a day overbooked against.
    day_limits: list[DayLimitOut] = []


class MoveBlockIn(Strict):
    start: BlockTime  # within 60 days of now, either way
    end: BlockTime
    force: bool = False  # pin it even if it conflicts; the conflicts come back as warnings

    @field_validator("end")
    @classmethod
    def _order(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError("end must be after start")
        return value


class MoveBlockOut(BaseModel):
    block: BlockOut
    pinned: list[dict[str, str]]
    calendar: CalendarWriteOut
    run_id: int
    warnings: list[str] = Field(default_factory=list)


class PreferredWindowIn(BaseModel):
    """A recurring window for some work; weekdays 0 = Monday."""

    start: time
    end: time
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4]
    )
    label: str = "preferred"

    @model_validator(mode="after")
    def _order(self) -> PreferredWindowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class DayHoursIn(BaseModel):
    """Hours said for some weekdays only (0 = Monday): nothing before or after on those days."""

    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1)
    not_before: time | None = None
    not_after: time | None = None


class SchedulingPreferences(BaseModel):
    """Preferences for the solver, read from memory by rules or the LLM; None = not said."""

    workday_start: time | None = None
    workday_end: time | None = None
    working_days: list[Annotated[int, Field(ge=0, le=6)]] | None = None
    not_before: time | None = None
    not_after: time | None = None
    buffer_minutes: Annotated[int, Field(ge=0, le=120)] | None = None
    # The descriptions reach the LLM with the schema (the seeded prompt names no field).
    daily_max_hours: Annotated[float, Field(ge=MIN_DAILY_CAP_HOURS, le=24)] | None = Field(
        default=None,
        description="Hours of all work a day at most; not a cap on one activity "
        "('2h/day of email') nor on billed hours",
    )
    # The week's working hours at most ("max 40h/week"); with a sprint, the smaller holds.
    weekly_max_hours: Annotated[float, Field(ge=MIN_DAILY_CAP_HOURS, le=168)] | None = Field(
        default=None,
        description="Hours of all work a week at most ('max 40h/week'); not a cap on one "
        "activity nor on billed hours",
    )
    preferred_windows: list[PreferredWindowIn] = Field(default_factory=list)
    day_hours: list[DayHoursIn] = Field(
        default_factory=list,
        description="Earliest or latest hours said for some weekdays only (0 = Monday); they "
        "narrow that day's hours: 'I work 9-5, on Fridays I finish at 1' is workday_start "
        "09:00, workday_end 17:00 and day_hours [{weekdays: [4], not_after: 13:00}]. They never "
        "widen them: a day with wider hours, 'I work 9-5, Fridays 8-6', is workday_start 08:00, "
        "workday_end 18:00 and the other days' own hours in day_hours "
        "[{weekdays: [0, 1, 2, 3], not_before: 09:00}, {weekdays: [0, 1, 2, 3], not_after: 17:00}]",
    )

    def hours(self, start: time, end: time) -> tuple[time, time]:
        """The working day left of the settings' [start, end) (empty when start >= end)."""
        lo, hi = self.workday_start or start, self.workday_end or end
        if self.not_before and self.not_before > lo:
            lo = self.not_before
        if self.not_after and self.not_after < hi:
            hi = self.not_after
        return lo, hi

    def hours_on(self, weekday: int, start: time, end: time) -> tuple[time, time]:
        """[start, end) narrowed by the hours said for `weekday` only."""
        for rule in self.day_hours:
            if weekday in rule.weekdays:
                start = max(start, rule.not_before or start)
                end = min(end, rule.not_after or end)
        return start, end
