"""Choose the calendar provider from settings."""

from __future__ import annotations

from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars.base import CalendarProvider
from almanac.config import (
    BuiltinCalendarSettings,
    CalDAVCalendarSettings,
    CalendarSettings,
    GoogleCalendarSettings,
)
from almanac.state import AppState


def configured_calendar(state: AppState, session: AsyncSession) -> CalendarProvider:
    """The process's configured calendar; the built-in one writes in `session`'s transaction."""
    return build_calendar(
        state.settings.calendar,
        session=session,
        cache=state.cache,
        timezone=state.settings.timezone,
    )


def build_calendar(
    settings: CalendarSettings, *, session: AsyncSession, cache: Cache, timezone: str = "UTC"
) -> CalendarProvider:
    """The configured provider. The built-in one writes in `session`'s transaction."""
    match settings:
        case BuiltinCalendarSettings():
            from almanac.calendars.builtin import BuiltinCalendar

            return BuiltinCalendar(session)
        case CalDAVCalendarSettings():
            from almanac.calendars.caldav import CalDAVCalendar

            password = settings.caldav_password
            return CalDAVCalendar(
                url=settings.caldav_url,
                calendar=settings.caldav_url,
                username=settings.caldav_username,
                password=password.get_secret_value() if password else None,
                timezone=timezone,
            )
        case GoogleCalendarSettings():
            from almanac.calendars.google import GoogleCalendar

            return GoogleCalendar.from_settings(settings, session=session, cache=cache)
        case _:
            assert_never(settings)
