"""BuiltinCalendar against the real Postgres (each test in a rolled-back transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.calendars.base import ApplyResult, EventSpec, event_uid
from almanac.calendars.builtin import BuiltinCalendar
from almanac.calendars.factory import build_calendar
from almanac.calendars.repository import CalendarEntryRepository
from almanac.calendars.schemas import EventIn
from almanac.calendars.service import CalendarService
from almanac.config import BuiltinCalendarSettings
from almanac.db.engine import create_sessionmaker
from almanac.errors import ValidationFailed
from almanac.models import CalendarEntry
from almanac.state import AppState
from tests.calendars.shapes import BERLIN, WEEK, at, specs


async def add_user_event(
    session: AsyncSession, title: str, start: datetime, end: datetime, busy: bool = True
) -> int:
    out, created = await CalendarService(session).create_event(
        EventIn(title=title, start=start, end=end, busy=busy)
    )
    assert created
    return out.id


async def rows(session: AsyncSession) -> dict[str, CalendarEntry]:
    """Every entry by UID. The objects are the session's: later reads refresh them in place."""
    entries = await CalendarEntryRepository(session).in_window(
        datetime(2000, 1, 1, tzinfo=UTC), None
    )
    return {e.uid: e for e in entries}


async def test_factory_builds_the_builtin_calendar(db_session: AsyncSession, state: AppState):
    provider = build_calendar(BuiltinCalendarSettings(), session=db_session, cache=state.cache)
    assert isinstance(provider, BuiltinCalendar) and provider.name == "builtin"
    await provider.check()


async def test_apply_twice_changes_nothing(db_session: AsyncSession):
    cal = BuiltinCalendar(db_session)
    await cal.apply(specs(), *WEEK)
    before = {uid: (e.id, e.sequence, e.updated_at) for uid, e in (await rows(db_session)).items()}
    again = await cal.apply(specs(), *WEEK)
    assert again == ApplyResult(created=[], updated=[], deleted=[], unchanged=["t1", "t2", "t3"])
    after = {uid: (e.id, e.sequence, e.updated_at) for uid, e in (await rows(db_session)).items()}
    assert after == before


async def test_fixed_offsets_are_stored_as_utc_and_stay_idempotent(db_session: AsyncSession):
    cal = BuiltinCalendar(db_session)
    plus2 = timezone(timedelta(hours=2))
    spec = [EventSpec("fx", "Offset", at(5, 9, tz=plus2), at(5, 10, tz=plus2))]
    assert (await cal.apply(spec, *WEEK)).created == ["fx"]
    assert (await cal.apply(spec, *WEEK)).unchanged == ["fx"]


async def test_update_bumps_sequence_and_delete_removes_undesired(db_session: AsyncSession):
    cal = BuiltinCalendar(db_session)
    await cal.apply(specs(), *WEEK)
    before = {uid: (e.id, e.sequence) for uid, e in (await rows(db_session)).items()}
    changed = [
        EventSpec("t1", "Write report v2", at(2, 11, tz=BERLIN), at(2, 12, tz=BERLIN), "draft"),
        specs()[1],
    ]
    result = await cal.apply(changed, *WEEK)
    assert result == ApplyResult(created=[], updated=["t1"], deleted=["t3"], unchanged=["t2"])

    after = await rows(db_session)
    assert set(after) == {event_uid("t1"), event_uid("t2")}
    t1 = after[event_uid("t1")]
    # Updated in place (same row), with SEQUENCE bumped so subscribers take the new version.
    assert (t1.id, t1.sequence) == (before[event_uid("t1")][0], before[event_uid("t1")][1] + 1)
    assert t1.title == "Write report v2" and t1.start_at == at(2, 11, tz=BERLIN)
    assert after[event_uid("t2")].sequence == before[event_uid("t2")][1]


async def test_a_leftover_block_of_the_same_id_is_taken_over(db_session: AsyncSession):
    cal = BuiltinCalendar(db_session)
    await cal.apply([EventSpec("mv", "Moved", at(2, 9), at(2, 10))], *WEEK)
    old = (await rows(db_session))[event_uid("mv")]
    old_id, old_sequence = old.id, old.sequence
    next_week = (WEEK[1], WEEK[1] + timedelta(days=7))
    later = EventSpec("mv", "Moved", at(10, 9), at(10, 10))
    assert (await cal.apply([later], *next_week)).created == ["mv"]
    new = (await rows(db_session))[event_uid("mv")]
    assert (new.id, new.start_at, new.sequence) == (old_id, at(10, 9), old_sequence + 1)
    assert [e.almanac_id for e in await cal.events(WEEK[0], next_week[1])] == ["mv"]


async def test_invalid_input_is_refused_before_writing(db_session: AsyncSession):
    cal = BuiltinCalendar(db_session)
    with pytest.raises(ValueError, match="window_start must be timezone-aware"):
        await cal.apply([], datetime(2026, 3, 2), WEEK[1])
    with pytest.raises(ValueError, match="outside the window"):
        await cal.apply([EventSpec("x", "Far", at(20, 9), at(20, 10))], *WEEK)
    with pytest.raises(ValidationFailed, match="title must be at most 500"):
        await cal.apply([EventSpec("x", "x" * 501, at(2, 9), at(2, 10))], *WEEK)
    with pytest.raises(ValueError, match="end must be after start"):
        await cal.events(WEEK[1], WEEK[0])
    assert await rows(db_session) == {}


async def test_apply_never_commits(committed_state: AppState, engine: AsyncEngine):
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        result = await BuiltinCalendar(session).apply(specs(), *WEEK)
        assert len(result.created) == 3
        await session.rollback()  # the caller decides: rolling back leaves nothing behind
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(CalendarEntry))
    assert count == 0
