"""How the scheduler's services are built from the process state (the wiring, once)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

from almanac.calendars.base import CalendarProvider
from almanac.calendars.deps import Calendar
from almanac.db.uow import UnitOfWork
from almanac.deps import State, UoW
from almanac.memory.deps import Memory
from almanac.memory.port import MemoryPort, memory_port
from almanac.planner.repository import PromptRepository
from almanac.scheduler.day_limits import user_day_limits
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.service import SchedulerService
from almanac.scheduler.sprints import SprintService
from almanac.state import AppState


def scheduler_service(
    uow: UnitOfWork,
    calendar: CalendarProvider,
    state: AppState,
    memory: MemoryPort | None = None,
) -> SchedulerService:
    """The scheduler on `uow` and `calendar` with the process's providers and settings."""
    return SchedulerService(
        uow,
        calendar,
        memory=memory if memory is not None else memory_port(uow, state),
        llm=state.llm,
        settings=state.settings.scheduler,
        timezone=state.settings.timezone,
    )


def get_scheduler_service(
    uow: UoW, calendar: Calendar, state: State, memory: Memory
) -> SchedulerService:
    """The scheduler for this request: its transaction and the configured calendar."""
    return scheduler_service(uow, calendar, state, memory)


def get_sprints(uow: UoW, state: State, memory: Memory) -> SprintService:
    """Sprints need no calendar until a report is asked for."""
    settings, repo = state.settings.scheduler, SchedulerRepository(uow.session)
    return SprintService(
        repo,
        timezone=ZoneInfo(state.settings.timezone),
        day_limits=lambda: user_day_limits(memory, PromptRepository(uow.session), settings, repo),
    )


Scheduler = Annotated[SchedulerService, Depends(get_scheduler_service, scope="function")]
Sprints = Annotated[SprintService, Depends(get_sprints, scope="function")]
