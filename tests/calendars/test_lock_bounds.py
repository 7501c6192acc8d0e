"""A hung remote calendar cannot hold the schedule writers' lock past what others wait for it.

Google (the wire double, through the real client library) stops answering its batch
endpoint for longer than the write-lock timeout while two clients schedule at once. Each
remote call under the lock has a quarter of that timeout and each HTTP request a socket
timeout no longer (calendars/bounds.py): the write that meets the hung Google is queued as a
pending write within its deadline, so the other writer gets the lock (no 503 `Busy`), and
once Google answers again the queued writes put every block there once -- also when a
queued write runs before Google carries out the batch it was abandoned with (each insert
names its event id).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.app import create_app
from almanac.cache import LocalCache
from almanac.calendars.base import CalendarSlow, EventSpec
from almanac.calendars.bounded import Bounded
from almanac.calendars.bounds import call_deadline, request_timeout
from almanac.calendars.google import GoogleCalendar
from almanac.calendars.google_api import BATCH_LIMIT
from almanac.config import GoogleCalendarSettings, SchedulerSettings
from almanac.deps import get_state
from almanac.scheduler.pending import TASK, write_blocks
from almanac.state import AppState
from tests.calendars.shapes import WEEK, at, connect
from tests.conftest import http_client
from tests.doubles.google_calendar import FakeGoogle
from tests.scheduler.conftest import TZ_NAME
from tests.scheduler.races import body, chain, current_blocks, plans, together

# The write-lock timeout here: a quarter (2 s) per remote call. The calls that answer (the
# reads, the solve, the database) must fit in it on a loaded machine too: with 3 s (0.75 s
# per call) they did not always.
LOCK = 8.0
HANG = LOCK + 0.5  # longer than LOCK: before the bounds, the second writer got 503 Busy


def test_the_bounds_follow_the_write_lock_timeout(
    committed_state: AppState, cal_settings: GoogleCalendarSettings
) -> None:
    settings = committed_state.settings.model_copy(
        update={"scheduler": SchedulerSettings(write_lock_timeout_seconds=LOCK)}
    )
    assert call_deadline(settings) == LOCK / 4
    assert request_timeout(settings, 30.0) == LOCK / 4
    assert request_timeout(settings.model_copy(update={"scheduler": SchedulerSettings()}), 30) == 5


async def google_state(
    committed_state: AppState, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> AppState:
    """The app's state on the Google double, connected, with a short lock and solve."""
    settings = committed_state.settings.model_copy(
        update={
            "timezone": TZ_NAME,
            "calendar": cal_settings,
            "scheduler": SchedulerSettings(time_limit_seconds=0.3, write_lock_timeout_seconds=LOCK),
        }
    )
    state = replace(committed_state, settings=settings)
    async with state.sessionmaker() as session:
        await connect(session, google)
        await session.commit()
    return state


async def test_a_hung_google_write_does_not_make_other_writers_busy(
    committed_state: AppState, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    state = await google_state(committed_state, google, cal_settings)
    a, b = await plans(state, chain(2, 1.0), chain(2, 1.0))
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    google.slow_seconds, google.slow_match = HANG, "POST /batch"  # writes hang, reads answer
    url = "/api/v1/scheduler/schedule"
    async with http_client(app) as api:
        started = time.perf_counter()
        ra, rb = await together(
            lambda: api.post(url, json=body(a)), lambda: api.post(url, json=body(b))
        )
        took = time.perf_counter() - started
    assert ra.status_code == 200 and rb.status_code == 200, (ra.text, rb.text)
    assert ra.json()["calendar"]["pending"] and rb.json()["calendar"]["pending"]
    assert f"within {LOCK / 4:g} s" in ra.json()["calendar"]["detail"]
    assert took < 2 * LOCK + 2, took  # each held the lock a quarter of LOCK, not HANG

    # The batches Almanac gave up on still land at Google once their hang ends (as a real
    # server may finish a request its client stopped waiting for); the queued writes, run
    # after that, find them and write the rest: nothing twice.
    await asyncio.sleep(max(0.0, HANG + 0.5 - (time.perf_counter() - started)))
    google.slow_seconds = 0.0
    async with state.sessionmaker() as session:
        jobs = (
            await session.execute(
                text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
                {"t": TASK},
            )
        ).scalars()
        for args in list(jobs):
            await write_blocks(session, state.settings, state.cache, dict(args))
        await session.commit()
    live = Counter(
        e["extendedProperties"]["private"]["almanacId"]
        for e in google.live_events()
        if "extendedProperties" in e
    )
    want = {
        f"plan{p}-{row['task_key']}-{row['chunk']}"
        for p in (a, b)
        for row in await current_blocks(state, p)
    }
    assert set(live) == want and max(live.values()) == 1, live


async def test_a_google_write_cut_at_its_deadline_starts_no_further_batch(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    """Three batches of 50, each answered after a second, a deadline of 1.6 s: the batch in
    flight then ends, the third is never sent, and the retry's diff writes the rest once.
    Counted in batches the double received (not in seconds: a loaded machine is slow)."""
    await connect(db_session, google)
    inner = GoogleCalendar.from_settings(
        cal_settings, session=db_session, cache=LocalCache(), base_delay=0.001
    )
    cal = Bounded(inner, 1.6)
    many = [
        EventSpec(
            f"b{i}",
            f"Block {i}",
            at(2 + i // 40, 8) + timedelta(minutes=i % 40 * 15),
            at(2 + i // 40, 8) + timedelta(minutes=i % 40 * 15 + 10),
        )
        for i in range(3 * BATCH_LIMIT - 30)
    ]
    google.slow_seconds, google.slow_match = 1.0, "POST /batch"

    def batches() -> int:
        return sum(key.startswith("POST /batch") for key in google.arrived)

    try:
        with pytest.raises(CalendarSlow, match="the write within 1.6 s"):
            await cal.apply(many, *WEEK)
        # The cut waits for the batch in flight (calendars/threads.py): each batch sent has
        # been answered, and the third, which could start a second after the deadline at
        # the earliest, was never sent.
        sent = batches()
        assert 1 <= sent <= 2
        assert len(google.api_requests("POST", "/batch")) == sent  # none still in flight
        written = len(google.live_events())
        assert written == sent * BATCH_LIMIT
        await asyncio.sleep(1.2)
        assert batches() == sent  # nothing sent after it gave up
        assert len(google.live_events()) == written
        google.slow_seconds = 0.0
        again = await cal.apply(many, *WEEK)
        assert len(again.created) == len(many) - written
        ids = Counter(e["extendedProperties"]["private"]["almanacId"] for e in google.live_events())
        assert len(ids) == len(many) and max(ids.values()) == 1
    finally:
        await cal.close()


async def test_a_queued_write_that_runs_before_the_abandoned_batch_lands_adds_nothing_twice(
    committed_state: AppState, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    """The write of a schedule meets a Google that takes longer than its deadline over the
    batch, and is queued; the queued write runs (reads the calendar, still empty, and
    writes every block) before Google carries out the batch it was abandoned with. Each
    insert names its event id, so the late batch is answered 409: one event per block."""
    state = await google_state(committed_state, google, cal_settings)
    (plan,) = await plans(state, chain(2, 1.0))
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    # This one batch waits until the test lets it go; every later one is answered at once.
    landing = google.hold("POST /batch")
    async with http_client(app) as api:
        r = await api.post("/api/v1/scheduler/schedule", json=body(plan))
    assert r.status_code == 200 and r.json()["calendar"]["pending"], r.text
    assert google.live_events() == []  # the abandoned batch has not landed yet

    async with state.sessionmaker() as session:
        (args,) = (
            await session.execute(
                text("SELECT args FROM procrastinate_jobs WHERE task_name = :t"), {"t": TASK}
            )
        ).scalars()
        result = await write_blocks(session, state.settings, state.cache, dict(args))
        await session.commit()
    assert result is not None and len(result.created) == 2

    landing.set()  # only now Google carries out the batch it was abandoned with
    async with asyncio.timeout(60):  # (only if it never lands)
        while len(google.api_requests("POST", "/events")) < 4:  # the late batch's inserts
            await asyncio.sleep(0.05)
    live = Counter(e["extendedProperties"]["private"]["almanacId"] for e in google.live_events())
    want = {
        f"plan{plan}-{row['task_key']}-{row['chunk']}" for row in await current_blocks(state, plan)
    }
    assert set(live) == want and max(live.values()) == 1, live
