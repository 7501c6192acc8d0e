"""How the planner's services are built from the process state (the wiring, once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from almanac.db.uow import UnitOfWork
from almanac.deps import State, UoW
from almanac.memory.deps import Memory
from almanac.memory.port import MemoryPort, memory_port
from almanac.planner.llm_choices import LLMChoiceService
from almanac.planner.plans import PlanLifecycleService
from almanac.planner.prompts import PromptService
from almanac.planner.service import PlannerService
from almanac.state import AppState


def planner_service(
    uow: UnitOfWork, state: AppState, memory: MemoryPort | None = None
) -> PlannerService:
    """The planner on `uow` with the process's providers and settings."""
    settings = state.settings
    return PlannerService(
        uow,
        memory=memory if memory is not None else memory_port(uow, state),
        embedder=state.embedder,
        llm=state.llm,
        settings=settings.planner,
        daily_planning_cap=settings.llm.daily_planning_cap,
        timezone=settings.timezone,
    )


def get_planner(uow: UoW, state: State, memory: Memory) -> PlannerService:
    return planner_service(uow, state, memory)


def get_plans(uow: UoW, state: State) -> PlanLifecycleService:
    return PlanLifecycleService(uow, hours_per_day=state.settings.planner.hours_per_day)


def get_prompts(uow: UoW) -> PromptService:
    return PromptService(uow)


def get_llm_choices(uow: UoW, state: State) -> LLMChoiceService:
    return LLMChoiceService(uow, state.settings.llm)


Planner = Annotated[PlannerService, Depends(get_planner)]
Plans = Annotated[PlanLifecycleService, Depends(get_plans)]
Prompts = Annotated[PromptService, Depends(get_prompts)]
Choices = Annotated[LLMChoiceService, Depends(get_llm_choices)]
