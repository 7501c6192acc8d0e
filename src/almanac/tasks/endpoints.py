"""HTTP routes of tasks under /api/v1/planner/tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from almanac.calendars.deps import Calendar
from almanac.deps import State, UoW
from almanac.memory.deps import Memory
from almanac.ontology.endpoints import Runs
from almanac.ontology.schemas import RunOut, RunStopIn
from almanac.planner.deps import Plans
from almanac.planner.schemas import PlanStatusIn
from almanac.problems import answers
from almanac.routing import Params
from almanac.routing import PathId as Id
from almanac.scheduler.blocks import BlockService
from almanac.scheduler.deps import Scheduler, scheduler_service
from almanac.scheduler.freeing import BlockFreeing
from almanac.scheduler.renaming import BlockRenaming
from almanac.scheduler.schemas import PlanStatusOut
from almanac.tasks.schemas import (
    TaskList,
    TaskOut,
    TaskPatch,
    TaskQuery,
    TaskUpdateOut,
    TimeIn,
    TimeOut,
)
from almanac.tasks.service import TaskService

router = APIRouter(prefix="/api/v1/planner/tasks", tags=["tasks"])
# A run's stop lives here: the hours it records shrink the task's future blocks, as a time
# record does (the ontology, which owns runs, is below the scheduler).
runs_router = APIRouter(prefix="/api/v1/planner", tags=["ontology"])
# A plan's status lives here too: cancelling it frees its blocks (the scheduler) and
# cancels its open tasks (this domain).
plans_router = APIRouter(prefix="/api/v1/planner", tags=["planner"])


def get_tasks(uow: UoW, state: State, calendar: Calendar, memory: Memory) -> TaskService:
    """Tasks for this request; closing one frees its future blocks in the calendar, a lower
    estimate or time recorded shrinks them, a new title renames them."""
    scheduler = scheduler_service(uow, calendar, state, memory)
    blocks = BlockService(scheduler)
    renaming = BlockRenaming(scheduler.repo, scheduler.calendar, scheduler.tz()).retitle_task
    return TaskService(uow, scheduler.tz(), BlockFreeing(scheduler).fit_task, blocks.hold, renaming)


Tasks = Annotated[TaskService, Depends(get_tasks, scope="function")]


@router.get("")
async def list_tasks(tasks: Tasks, query: Params[TaskQuery]) -> TaskList:
    """Tasks, the most urgent first; filters combine."""
    return await tasks.list(query)


@router.get("/{task_id}")
async def get_task(task_id: Id, tasks: Tasks) -> TaskOut:
    """One task with the hours recorded against it."""
    return await tasks.get(task_id)


@router.patch("/{task_id}", responses=answers(409, 503))
async def patch_task(task_id: Id, body: TaskPatch, tasks: Tasks) -> TaskUpdateOut:
    """Edit title, estimate, priority, deadline or status; done/cancelled frees future blocks,
    a lower estimate shrinks them (the latest first)."""
    return await tasks.patch(task_id, body)


@router.post("/{task_id}/time", responses=answers(503))
async def log_time(task_id: Id, body: TimeIn, tasks: Tasks) -> TimeOut:
    """Record hours worked (creates or extends the task's execution run); future blocks
    beyond the hours left are shrunk, the latest first."""
    return await tasks.log_time(task_id, body)


@runs_router.post("/execution-runs/{run_id}/stop", responses=answers(409, 503))
async def stop_run(run_id: Id, runs: Runs, tasks: Tasks, body: RunStopIn | None = None) -> RunOut:
    """Complete a run; `variance_pct` is computed by Postgres from the hours. The task's
    future blocks beyond its remaining estimate are shrunk, the latest first."""
    return await tasks.stop_run(runs, run_id, body or RunStopIn())


@plans_router.post("/plans/{plan_id}/status", responses=answers(409, 503))
async def set_plan_status(
    plan_id: Id, body: PlanStatusIn, plans: Plans, scheduler: Scheduler, tasks: Tasks
) -> PlanStatusOut:
    """Move a plan along its lifecycle (scheduling is done by POST /scheduler/schedule);
    cancelling or completing it frees its future blocks in the calendar, and cancelling it
    cancels its tasks not yet closed (`cancelled_task_ids`), stopping their timers."""
    out = await BlockFreeing(scheduler).set_plan_status(plans, plan_id, body)
    if body.status == "cancelled":
        out.cancelled_task_ids = await tasks.cancel_open(plan_id)
    return out
