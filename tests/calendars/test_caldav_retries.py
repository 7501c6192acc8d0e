"""Retried and concurrent writes to a real CalDAV server: no duplicate events, and SEQUENCE
moves only when an event's times do."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from almanac.calendars.base import EventSpec
from almanac.calendars.caldav import CalDAVCalendar
from tests.calendars.conftest import USER
from tests.calendars.shapes import WEEK, at, specs


@pytest.fixture
async def second(dav_url: str, raw_calendar: Any) -> AsyncIterator[CalDAVCalendar]:
    """Another client of the same calendar (a second worker or request)."""
    cal = CalDAVCalendar(
        url=dav_url,
        calendar=str(raw_calendar.url),
        username=USER,
        password="secret",
        timezone="Europe/Berlin",
    )
    try:
        yield cal
    finally:
        await cal.close()


def stored(raw_calendar: Any) -> Counter[tuple[str, int]]:
    """(X-ALMANAC-ID, SEQUENCE) of every resource on the server, counted."""
    out: Counter[tuple[str, int]] = Counter()
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        out[(str(vevent.get("X-ALMANAC-ID")), int(vevent.get("SEQUENCE", 0)))] += 1
    return out


async def test_an_apply_retried_after_a_lost_answer_changes_nothing(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    first = await provider.apply(specs(), *WEEK)
    again = await provider.apply(specs(), *WEEK)  # the client never saw `first` and retries
    assert again.created == [] and again.updated == [] and again.deleted == []
    assert sorted(again.unchanged) == sorted(first.created)
    assert stored(raw_calendar) == Counter({(s.almanac_id, 0): 1 for s in specs()})


async def test_the_same_apply_twice_at_once_leaves_one_event_each(
    provider: CalDAVCalendar, second: CalDAVCalendar, raw_calendar: Any
) -> None:
    results = await asyncio.gather(
        provider.apply(specs(), *WEEK), second.apply(specs(), *WEEK), return_exceptions=True
    )
    assert stored(raw_calendar) == Counter({(s.almanac_id, 0): 1 for s in specs()}), results
    assert not [r for r in results if isinstance(r, BaseException)], results


async def test_a_move_retried_bumps_sequence_once(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    await provider.apply(specs(), *WEEK)
    moved = specs()
    moved[0] = EventSpec(moved[0].almanac_id, moved[0].title, at(6, 14), at(6, 15))
    await provider.apply(moved, *WEEK)
    await provider.apply(moved, *WEEK)  # the move's answer was lost: sent again
    seqs = {aid: seq for (aid, seq) in stored(raw_calendar)}
    assert seqs[moved[0].almanac_id] == 1
    assert all(seqs[s.almanac_id] == 0 for s in moved[1:])
    assert sum(stored(raw_calendar).values()) == len(moved)
