"""HTTP routes of the scheduler under /api/v1/scheduler."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from almanac.calendars.deps import Calendar
from almanac.deps import State, UoW
from almanac.problems import answers
from almanac.scheduler.blocks import BlockService
from almanac.scheduler.schemas import (
    CalendarOut,
    MoveBlockIn,
    MoveBlockOut,
    ReplanIn,
    ReplanOut,
    ScheduleIn,
    ScheduleOut,
    SprintIn,
    SprintOut,
    SprintReport,
    SprintUpdate,
)
from almanac.scheduler.service import SchedulerService
from almanac.scheduler.sprints import SprintService
from almanac.types import BoundedDate, Offset, SafeStr

router = APIRouter(prefix="/api/v1/scheduler", tags=["scheduler"])


def get_scheduler_service(uow: UoW, calendar: Calendar, state: State) -> SchedulerService:
    """The scheduler for this request: its transaction and the configured calendar."""
    return SchedulerService(uow, calendar, state)


Scheduler = Annotated[SchedulerService, Depends(get_scheduler_service, scope="function")]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
EventId = Annotated[SafeStr, Path(min_length=1, max_length=255)]


@router.post("/schedule", responses=answers(404, 409, 503))
async def schedule(body: ScheduleIn, scheduler: Scheduler) -> ScheduleOut:
    """Place a plan's tasks around busy time; `dry_run=false` writes them to the calendar."""
    return await scheduler.schedule(body)


@router.post("/replan", responses=answers(404, 409, 503))
async def replan(body: ReplanIn, scheduler: Scheduler) -> ReplanOut:
    """Re-solve a scheduled plan with a stability penalty; reports what moved and why."""
    return await scheduler.replan(body)


@router.get("/calendar", responses=answers(503))
async def calendar_view(
    scheduler: Scheduler,
    start_date: Annotated[BoundedDate | None, Query()] = None,
    end_date: Annotated[BoundedDate | None, Query()] = None,
) -> CalendarOut:
    """Almanac's blocks and the user's events between two dates (inclusive)."""
    return await BlockService(scheduler).view(start_date, end_date)


@router.put("/calendar/{event_id}", responses=answers(409, 503))
async def move_block(event_id: EventId, body: MoveBlockIn, scheduler: Scheduler) -> MoveBlockOut:
    """Move an Almanac block by hand; it is pinned so replanning keeps it."""
    return await BlockService(scheduler).move(event_id, body)


@router.post("/sprints", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def create_sprint(body: SprintIn, scheduler: Scheduler) -> SprintOut:
    """Create the sprint of one week (week_start is a Monday)."""
    return await SprintService(scheduler).create(body)


@router.get("/sprints")
async def list_sprints(
    scheduler: Scheduler,
    limit: Annotated[int, Query(ge=1, le=500)] = 52,
    offset: Annotated[Offset, Query()] = 0,
) -> list[SprintOut]:
    """Sprints, latest week first."""
    return await SprintService(scheduler).list(limit, offset)


@router.get("/sprints/{sprint_id}")
async def get_sprint(sprint_id: Id, scheduler: Scheduler) -> SprintReport:
    """A sprint with capacity used, billable share and warnings."""
    return await SprintService(scheduler).report(sprint_id)


@router.put("/sprints/{sprint_id}", responses=answers(409))
async def update_sprint(sprint_id: Id, body: SprintUpdate, scheduler: Scheduler) -> SprintOut:
    """Change a sprint's capacity, target, runway or client."""
    return await SprintService(scheduler).update(sprint_id, body)


@router.delete("/sprints/{sprint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_sprint(sprint_id: Id, scheduler: Scheduler) -> Response:
    """Delete a sprint."""
    await SprintService(scheduler).delete(sprint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
