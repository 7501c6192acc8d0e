"""Retried and concurrent writes to a real CalDAV server: no duplicate events, and SEQUENCE
moves only when an event's times do."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI

from almanac.app import create_app
from almanac.calendars.base import EventSpec
from almanac.calendars.caldav import CalDAVCalendar
from almanac.config import CalDAVCalendarSettings, SchedulerSettings
from almanac.deps import get_state
from almanac.state import AppState
from tests.calendars.conftest import dav_provider
from tests.calendars.shapes import WEEK, at, specs
from tests.conftest import http_client, ok
from tests.scheduler.conftest import TZ_NAME
from tests.scheduler.races import body, chain, current_blocks, plans, together


@pytest.fixture
async def second(dav_url: str, raw_calendar: Any) -> AsyncIterator[CalDAVCalendar]:
    """Another client of the same calendar (a second worker or request)."""
    async with dav_provider(dav_url, raw_calendar) as cal:
        yield cal


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


def calendar_app(
    committed_state: AppState, calendar: CalDAVCalendarSettings
) -> tuple[AppState, FastAPI]:
    """The app's state on `calendar` (the tests' zone, a 1 s solve) and an app serving it."""
    settings = committed_state.settings.model_copy(
        update={
            "timezone": TZ_NAME,
            "calendar": calendar,
            "scheduler": SchedulerSettings(time_limit_seconds=1.0),
        }
    )
    state = replace(committed_state, settings=settings)
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    return state, app


async def test_two_plans_scheduled_at_once_into_caldav(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    """Two clients schedule at once with CalDAV as the calendar: every block once on the
    server, none overlapping, exactly the blocks of each plan's current run."""
    state, app = calendar_app(committed_state, caldav_settings)
    a, b = await plans(state, chain(3, 1.5), chain(3, 1.5))
    async with http_client(app) as api:
        url = "/api/v1/scheduler/schedule"
        ra, rb = await together(
            lambda: api.post(url, json=body(a)), lambda: api.post(url, json=body(b))
        )
        await ok(ra)
        await ok(rb)
    events = []
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
        events.append((str(vevent.get("X-ALMANAC-ID")), start, end))
    ids = Counter(aid for aid, _, _ in events)
    assert ids and max(ids.values()) == 1, ids
    ordered = sorted(events, key=lambda e: e[1])
    for (x, _, x1), (y, y0, _) in zip(ordered, ordered[1:], strict=False):
        assert y0 >= x1, f"{x} overlaps {y}"
    want = {
        (f"plan{p}-{row['task_key']}-{row['chunk']}", row["start"], row["end"])
        for p in (a, b)
        for row in await current_blocks(state, p)
    }
    got = {(aid, s.isoformat(), e.isoformat()) for aid, s, e in events}
    assert {(x, datetime.fromisoformat(s)) for x, s, _ in got} == {
        (x, datetime.fromisoformat(s)) for x, s, _ in want
    }
