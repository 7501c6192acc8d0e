"""The calendar as a request dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends

from almanac.calendars.base import CalendarProvider
from almanac.calendars.factory import configured_calendar
from almanac.deps import State, UoW


async def get_calendar(uow: UoW, state: State) -> AsyncIterator[CalendarProvider]:
    """The configured calendar for this request, closed when the request ends."""
    provider = configured_calendar(state, uow.session)
    try:
        yield provider
    finally:
        await provider.close()


# scope="function": it depends on the request's unit of work, which is function-scoped.
Calendar = Annotated[CalendarProvider, Depends(get_calendar, scope="function")]
