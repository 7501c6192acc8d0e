"""FastAPI dependencies, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from almanac.config import Settings
from almanac.db.limits import bound_request
from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.state import AppState


def get_state(request: Request) -> AppState:
    """The process-wide state set by the lifespan."""
    state: AppState = request.state.almanac
    return state


State = Annotated[AppState, Depends(get_state)]


def get_settings(state: State) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_uow(state: State) -> AsyncIterator[UnitOfWork]:
    """One transaction per request: committed when the endpoint returns, else rolled back."""
    async with unit_of_work(state.sessionmaker) as uow:
        settings = state.settings
        bound_request(
            uow.session,
            write_lock_timeout=settings.scheduler.write_lock_timeout_seconds,
            statement_timeout=settings.database.statement_timeout_seconds,
        )
        yield uow


# scope="function": commit before the response is sent, so a failed commit is reported.
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
