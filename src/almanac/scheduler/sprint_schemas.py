"""Request and response shapes of the sprint API (a week's capacity and billable target)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from almanac.types import NOT_BOOL, SOME_WORK_HOURS, IntId, SprintWeek, Strict, work_bounds


class SprintIn(Strict):
    week_start: SprintWeek
    capacity_hrs: Annotated[float, work_bounds(gt=0, le=168), NOT_BOOL, SOME_WORK_HOURS]
    billable_target_pct: Annotated[float, Field(ge=0, le=100), NOT_BOOL] = 60.0
    runway_weeks: Annotated[float, Field(ge=0, le=1000), NOT_BOOL] | None = None
    client_id: IntId | None = None

    @field_validator("week_start")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError("week_start must be a Monday")
        return value


class SprintUpdate(Strict):
    """Fields to change; `runway_weeks` and `client_id` may be cleared with null."""

    capacity_hrs: Annotated[float, work_bounds(gt=0, le=168), NOT_BOOL, SOME_WORK_HOURS] | None = (
        None
    )
    billable_target_pct: Annotated[float, Field(ge=0, le=100), NOT_BOOL] | None = None
    runway_weeks: Annotated[float, Field(ge=0, le=1000), NOT_BOOL] | None = None
    client_id: IntId | None = None

    @field_validator("capacity_hrs", "billable_target_pct")
    @classmethod
    def _not_null(cls, value: float | None) -> float:
        # Omit a field to keep it; null would erase a value the sprint cannot do without.
        if value is None:
            raise ValueError("must be a number (omit the field to keep the current value)")
        return value


class SprintOut(BaseModel):
    id: int
    week_start: date
    capacity_hrs: float
    billable_target_pct: float
    runway_weeks: float | None
    client_id: int | None


class SprintReport(SprintOut):
    used_hours: float
    billable_hours: float
    # Billable ÷ scheduled hours (the calendar's Almanac blocks in the week), in percent;
    # None when nothing is scheduled. The sprint's target and its warning use this one.
    billable_share_pct: float | None
    hours_by_day: dict[str, float]
    # Hours logged in the week (any task status, as reflections count them) and the
    # billable ÷ worked share of them; None when nothing was logged.
    worked_hours: float = 0.0
    worked_billable_hours: float = 0.0
    worked_billable_share_pct: float | None = None
    warnings: list[str]
    # The plans with blocks in the week: the ones a replan can move to fit the capacity.
    plan_ids: list[int] = []
