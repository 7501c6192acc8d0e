"""How the Observer is built from the process state (the wiring, once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends

from almanac.db.uow import UnitOfWork
from almanac.deps import State, UoW
from almanac.memory.deps import Memory
from almanac.memory.port import MemoryPort, memory_port
from almanac.observer.facts import FactExtractor
from almanac.observer.service import ObserverService
from almanac.state import AppState


def observer_service(
    uow: UnitOfWork,
    state: AppState,
    memory: MemoryPort | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> ObserverService:
    """The Observer on `uow` with the process's providers and settings."""
    settings = state.settings
    return ObserverService(
        uow,
        memory=memory if memory is not None else memory_port(uow, state),
        llm=state.llm,
        planner=settings.planner,
        scheduler=settings.scheduler,
        timezone=settings.timezone,
        clock=clock,
    )


def fact_extractor(uow: UnitOfWork, state: AppState) -> FactExtractor:
    """Fact extraction on `uow` (what the job and the tests use)."""
    return FactExtractor(uow, memory=memory_port(uow, state), llm=state.llm)


def get_observer(uow: UoW, state: State, memory: Memory) -> ObserverService:
    """The Observer for this request's transaction."""
    return observer_service(uow, state, memory)


Observer = Annotated[ObserverService, Depends(get_observer)]
