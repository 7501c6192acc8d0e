"""Choose the calendar provider from settings."""

from __future__ import annotations

from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars.base import CalendarProvider
from almanac.calendars.bounded import Bounded
from almanac.calendars.bounds import (
    CALDAV_REQUEST_TIMEOUT,
    GOOGLE_REQUEST_TIMEOUT,
    call_deadline,
    request_timeout,
)
from almanac.calendars.with_local import WithLocalEvents
from almanac.config import (
    BuiltinCalendarSettings,
    CalDAVCalendarSettings,
    CalendarSettings,
    GoogleCalendarSettings,
    Settings,
)
from almanac.config.checks import mail_address
from almanac.state import AppState


def user_addresses(settings: CalendarSettings) -> frozenset[str]:
    """The user's own calendar addresses Almanac knows without asking a server: the
    configured `calendar.user_addresses`, and a CalDAV login that is an email address."""
    found = set(settings.user_addresses)
    if isinstance(settings, CalDAVCalendarSettings) and settings.caldav_username:
        try:
            found.add(mail_address(settings.caldav_username))
        except ValueError:
            pass  # a plain user name names no mailbox
    return frozenset(found)


def configured_calendar(state: AppState, session: AsyncSession) -> CalendarProvider:
    """The process's configured calendar; the built-in one writes in `session`'s transaction."""
    return calendar_for(state.settings, session=session, cache=state.cache)


def calendar_for(settings: Settings, *, session: AsyncSession, cache: Cache) -> CalendarProvider:
    """The configured calendar within the writers' lock bounds (calendars/bounds.py): a
    remote one's calls and HTTP requests end in time for the next writer to get the lock."""
    provider = build_calendar(
        settings.calendar,
        session=session,
        cache=cache,
        timezone=settings.timezone,
        request_timeouts=(
            request_timeout(settings, CALDAV_REQUEST_TIMEOUT),
            request_timeout(settings, GOOGLE_REQUEST_TIMEOUT),
        ),
    )
    if provider.name == "builtin":  # rows in the transaction: the statement timeout bounds it
        return provider
    from almanac.calendars.builtin import BuiltinCalendar

    # The events added through Almanac (kept in Postgres) are busy time beside the remote's.
    return WithLocalEvents(Bounded(provider, call_deadline(settings)), BuiltinCalendar(session))


def build_calendar(
    settings: CalendarSettings,
    *,
    session: AsyncSession,
    cache: Cache,
    timezone: str = "UTC",
    request_timeouts: tuple[float, float] = (CALDAV_REQUEST_TIMEOUT, GOOGLE_REQUEST_TIMEOUT),
) -> CalendarProvider:
    """The configured provider, unbounded (`calendar_for` bounds it). The built-in one writes
    in `session`'s transaction; `request_timeouts` are CalDAV's and Google's socket timeouts."""
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
                timeout=request_timeouts[0],
                addresses=settings.user_addresses,
            )
        case GoogleCalendarSettings():
            from almanac.calendars.google import GoogleCalendar

            return GoogleCalendar.from_settings(
                settings, session=session, cache=cache, timeout=request_timeouts[1]
            )
        case _:
            assert_never(settings)
