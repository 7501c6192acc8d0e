"""HTTP routes of the scheduler under /api/v1/scheduler."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from almanac.calendars.deps import Calendar
from almanac.problems import answers
from almanac.routing import PathId as Id
from almanac.routing import replayed_as_200
from almanac.scheduler.blocks import BlockService
from almanac.scheduler.deps import Scheduler, Sprints
from almanac.scheduler.schemas import (
    CalendarOut,
    MoveBlockIn,
    MoveBlockOut,
    ReplanIn,
    ReplanOut,
    ScheduleIn,
    ScheduleOut,
)
from almanac.scheduler.sprint_schemas import SprintIn, SprintOut, SprintReport, SprintUpdate
from almanac.types import BoundedDate, Offset, SafeStr

router = APIRouter(prefix="/api/v1/scheduler", tags=["scheduler"])
# The plan lifecycle route lives here: closing a plan frees its blocks in the calendar.


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


# `:path`: an id with a "/" in it (sent encoded) reached no route, a bare "Not Found".
@router.put("/calendar/{event_id:path}", responses=answers(409, 503))
async def move_block(event_id: EventId, body: MoveBlockIn, scheduler: Scheduler) -> MoveBlockOut:
    """Move an Almanac block by hand; it is pinned so replanning keeps it."""
    return await BlockService(scheduler).move(event_id, body)


@router.post(
    "/sprints",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same sprint sent again (a retry): the existing sprint"},
        **answers(409),
    },
)
async def create_sprint(body: SprintIn, sprints: Sprints, response: Response) -> SprintOut:
    """Create the sprint of one week (week_start is a Monday). The same body again answers
    the sprint it made (200); another sprint for that week is a 409."""
    return replayed_as_200(response, await sprints.create(body))


@router.get("/sprints")
async def list_sprints(
    sprints: Sprints,
    limit: Annotated[int, Query(ge=1, le=500)] = 52,
    offset: Annotated[Offset, Query()] = 0,
) -> list[SprintOut]:
    """Sprints, latest week first."""
    return await sprints.list(limit, offset)


@router.get("/sprints/{sprint_id}", responses=answers(503))
async def get_sprint(sprint_id: Id, sprints: Sprints, calendar: Calendar) -> SprintReport:
    """A sprint with capacity used, billable share and warnings."""
    return await sprints.report(sprint_id, calendar)


@router.put("/sprints/{sprint_id}", responses=answers(409))
async def update_sprint(sprint_id: Id, body: SprintUpdate, sprints: Sprints) -> SprintOut:
    """Change a sprint's capacity, target, runway or client."""
    return await sprints.update(sprint_id, body)


@router.delete("/sprints/{sprint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_sprint(sprint_id: Id, sprints: Sprints) -> Response:
    """Delete a sprint."""
    await sprints.delete(sprint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
