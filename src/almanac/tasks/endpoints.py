"""HTTP routes of tasks under /api/v1/planner/tasks."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from almanac.calendars.deps import Calendar
from almanac.deps import State, UoW
from almanac.memory.deps import Memory
from almanac.problems import answers
from almanac.scheduler.blocks import BlockService
from almanac.scheduler.deps import scheduler_service
from almanac.tasks.schemas import (
    TaskList,
    TaskOut,
    TaskPatch,
    TaskStatus,
    TaskUpdateOut,
    TimeIn,
    TimeOut,
)
from almanac.tasks.service import TaskService
from almanac.types import AwareDatetime

router = APIRouter(prefix="/api/v1/planner/tasks", tags=["tasks"])


def get_tasks(uow: UoW, state: State, calendar: Calendar, memory: Memory) -> TaskService:
    """Tasks for this request; closing one frees its future blocks in the calendar."""
    scheduler = scheduler_service(uow, calendar, state, memory)
    return TaskService(uow, scheduler.tz(), BlockService(scheduler).release)


Tasks = Annotated[TaskService, Depends(get_tasks, scope="function")]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("")
async def list_tasks(
    tasks: Tasks,
    plan_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    client_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    status: TaskStatus | None = None,
    due_before: AwareDatetime | None = None,
    on: Annotated[date | None, Query(description="scheduled or due that local day")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TaskList:
    """Tasks, the most urgent first; filters combine."""
    return await tasks.list(
        plan_id=plan_id,
        client_id=client_id,
        status=status,
        due_before=due_before,
        on=on,
        limit=limit,
        offset=offset,
    )


@router.get("/{task_id}")
async def get_task(task_id: Id, tasks: Tasks) -> TaskOut:
    """One task with the hours recorded against it."""
    return await tasks.get(task_id)


@router.patch("/{task_id}", responses=answers(409, 503))
async def patch_task(task_id: Id, body: TaskPatch, tasks: Tasks) -> TaskUpdateOut:
    """Edit title, estimate, priority, deadline or status; done/cancelled frees future blocks."""
    return await tasks.patch(task_id, body)


@router.post("/{task_id}/time")
async def log_time(task_id: Id, body: TimeIn, tasks: Tasks) -> TimeOut:
    """Record hours worked (creates or extends the task's execution run)."""
    return await tasks.log_time(task_id, body)
