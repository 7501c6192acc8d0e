"""The plain rows a reflection reads (pure data): the repository fills them, the report
(`observer/report.py`) and the patterns (`observer/patterns.py`) take them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    title: str
    estimate_hours: float | None
    status: str
    scheduled_start: datetime | None
    deadline: datetime | None
    billable: bool
    finished_at: datetime | None = None  # when it was marked done, if that was kept
    planned_start: datetime | None = None  # where it was, when finishing it freed its blocks
    client_id: int | None = None  # a client's task: its title never reaches the LLM or memory
    logged_hours: float = 0.0  # every hour recorded against it, in any period


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    status: str
    task_id: int | None
    task_key: str | None
    instance_id: int | None  # process template
    workflow_id: int | None
    started_at: datetime | None
    ended_at: datetime | None
    estimated_hours: float | None  # the library's estimate: the planner's baseline
    actual_hours: float | None
    billable: bool
    # The hours logged (`almanac log`), each with when it ended; a run's hours are counted
    # by these when it has them (billing.hours_in).
    entries: tuple[tuple[datetime, float], ...] = ()
    # Its task is not done (still open, or cancelled): the hours were worked, but they do
    # not say how long the task takes, so estimates (planner and patterns) leave them out.
    task_unfinished: bool = False

    @property
    def at(self) -> datetime | None:
        """When the run happened: its start, else its end."""
        return self.started_at or self.ended_at


@dataclass(frozen=True, slots=True)
class BlockRow:
    task_id: int | None
    task_key: str
    start: datetime
    end: datetime
    # Where the plan's first applied schedule put this block; None if it was not there.
    first_start: datetime | None
    first_end: datetime | None


@dataclass(frozen=True, slots=True)
class SprintRow:
    week_start: date
    capacity_hrs: float
    billable_target_pct: float
    runway_weeks: float | None


@dataclass(frozen=True, slots=True)
class WorkflowInfo:
    name: str
    estimate_hours: float | None  # sum of the workflow's task estimates (the library's)
    suggested_hours: float | None = None  # what the planner would plan now (no client)
    # Per workflow task key: the library's and the planner's estimate.
    library_tasks: Mapping[str, float] = field(default_factory=dict)
    suggested_tasks: Mapping[str, float] = field(default_factory=dict)
    clients: Mapping[int, tuple[int, float]] = field(default_factory=dict)  # runs, hours
    basis: Mapping[str, Any] = field(default_factory=dict)  # what the estimate rests on
