"""Google inserts are idempotent: each names a deterministic event id (google_api.event_id).

Through the real google-api-python-client against the wire double, which answers an insert
naming a taken id (a live event's or a deleted one's) with 409 `duplicate`, as Google does.
Last, `remove` racing another writer (its diff is scoped to the ids it removes).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import LocalCache
from almanac.calendars.base import CalendarUnavailable, EventSpec
from almanac.calendars.bounded import Bounded
from almanac.calendars.google import GoogleCalendar
from almanac.calendars.google_api import ID_GENERATIONS, event_id, insert_body
from almanac.config import GoogleCalendarSettings
from tests.calendars.shapes import WEEK, at, connect, specs
from tests.doubles.google_calendar import FakeGoogle

EVENTS_PATH = "/calendar/v3/calendars/primary/events"
# The call deadline and socket timeout (a write-lock timeout of 8 s). Google holds the
# batch Almanac gives up on until the test lets it go (`FakeGoogle.hold`), so the deadline
# is cut by construction; it also bounds the calls around it, which must not miss it on a
# loaded machine (0.5 s did not always do for the retry's read and write).
DEADLINE = 2.0


def live_ids(google: FakeGoogle) -> Counter[str]:
    return Counter(e["extendedProperties"]["private"]["almanacId"] for e in google.live_events())


def inserts(google: FakeGoogle) -> int:
    return len(google.api_requests("POST", EVENTS_PATH))


async def until(done: Callable[[], bool], limit: float = 60.0) -> None:
    """Wait for `done` (what the double has seen); `limit` matters only if it never is."""
    async with asyncio.timeout(limit):
        while not done():
            await asyncio.sleep(0.01)


def test_event_ids_are_deterministic_valid_google_ids() -> None:
    a, b, _ = specs()
    ids = {event_id(a, g) for g in range(ID_GENERATIONS)}
    assert len(ids) == ID_GENERATIONS  # each generation its own id
    assert event_id(a) == event_id(replace(a, title="Renamed"))  # the same block, renamed
    assert event_id(a) != event_id(replace(a, start=at(2, 7)))  # a block moved is another
    assert event_id(a) != event_id(replace(a, almanac_id="t9"))
    assert all(re.fullmatch(r"[a-v0-9]{5,1024}", i) for i in ids | {event_id(b)})


async def test_a_batch_landing_after_the_retry_read_the_calendar_adds_nothing(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    """The write is cut at its deadline while Google still works on the batch; the retry
    reads the calendar (empty), writes the blocks, and only then the abandoned batch is
    carried out. Before the ids, that left every block on the calendar twice."""
    await connect(db_session, google)
    inner = GoogleCalendar.from_settings(
        cal_settings, session=db_session, cache=LocalCache(), timeout=DEADLINE
    )
    cal = Bounded(inner, DEADLINE)  # as calendars.factory.calendar_for builds it
    try:
        landing = google.hold("POST /batch")
        with pytest.raises(CalendarUnavailable):
            await cal.apply(specs(), *WEEK)
        assert google.live_events() == []  # the abandoned batch has not landed yet

        retry = await cal.apply(specs(), *WEEK)
        assert sorted(retry.created) == ["t1", "t2", "t3"]

        landing.set()  # only now Google carries out the abandoned batch
        await until(lambda: inserts(google) == 6)  # its three inserts reached Google
        assert live_ids(google) == Counter({"t1": 1, "t2": 1, "t3": 1})
        again = await cal.apply(specs(), *WEEK)
        assert sorted(again.unchanged) == ["t1", "t2", "t3"] and not again.created
    finally:
        await cal.close()


async def test_an_insert_answered_duplicate_counts_as_created(
    google_calendar: GoogleCalendar, google: FakeGoogle
) -> None:
    """Events holding the ids land between the read and the insert (an earlier send of the
    same write): the 409s are settled as created, the stale one patched to the block."""
    t1, t2, t3 = specs()
    batch = google.hold("POST /batch")
    write = asyncio.create_task(google_calendar.apply(specs(), *WEEK))
    await until(lambda: bool(google.api_requests("GET", EVENTS_PATH)))  # the diff has read
    for spec, title in ((t1, t1.title), (t2, "An older title")):
        google.add_event(
            id=event_id(spec),
            summary=title,
            description=spec.description,
            start={"dateTime": spec.start.isoformat(), "timeZone": str(spec.start.tzinfo)},
            end={"dateTime": spec.end.isoformat(), "timeZone": str(spec.end.tzinfo)},
            extendedProperties={"private": {"almanacId": spec.almanac_id}},
        )
    batch.set()  # the inserts meet the events added since the read
    result = await write
    assert sorted(result.created) == ["t1", "t2", "t3"]
    assert live_ids(google) == Counter({"t1": 1, "t2": 1, "t3": 1})
    by_id = {e["id"]: e for e in google.live_events()}
    assert by_id[event_id(t2)]["summary"] == t2.title  # patched to what the block says
    assert len(google.api_requests("GET", EVENTS_PATH + "/")) == 2  # each 409 read back
    assert len(google.api_requests("PATCH")) == 1  # t1 was right already
    again = await google_calendar.apply(specs(), *WEEK)
    assert sorted(again.unchanged) == ["t1", "t2", "t3"]


async def test_a_deleted_block_created_again_is_on_the_calendar(
    google_calendar: GoogleCalendar, google: FakeGoogle
) -> None:
    """Google keeps a deleted event's id: the same block created again takes the next
    generation's id, and a second send of that insert is idempotent too."""
    first = await google_calendar.apply(specs(), *WEEK)
    assert len(first.created) == 3
    for round_ in range(1, 3):
        gone = await google_calendar.apply([], *WEEK)
        assert sorted(gone.deleted) == ["t1", "t2", "t3"] and google.live_events() == []
        again = await google_calendar.apply(specs(), *WEEK)
        assert sorted(again.created) == ["t1", "t2", "t3"]
        assert live_ids(google) == Counter({"t1": 1, "t2": 1, "t3": 1})
        assert {e["id"] for e in google.live_events()} == {event_id(s, round_) for s in specs()}

    # The insert of generation 2 sent once more (its answer lost): still one event each.
    await google_calendar._call(
        "send again", lambda service: google_calendar._settle(specs(), service)
    )
    assert live_ids(google) == Counter({"t1": 1, "t2": 1, "t3": 1})


async def test_removing_blocks_leaves_a_block_written_meanwhile_alone(
    google_calendar: GoogleCalendar, google: FakeGoogle
) -> None:
    """`remove` (forgetting a client: no writers' lock) reads the window, then writes; a
    block another writer adds in between is not one of those removed and must stay."""
    await google_calendar.apply(specs(), *WEEK)
    reads = len(google.api_requests("GET", EVENTS_PATH))
    google.delay(0.0, "GET " + EVENTS_PATH)  # the first read: at once
    turn = google.hold("GET " + EVENTS_PATH)  # the next read waits: the other writer's turn
    removing = asyncio.create_task(
        google_calendar.remove(lambda aid: aid == "t1", *WEEK)  # t1 is the forgotten block
    )
    await until(lambda: len(google.api_requests("GET", EVENTS_PATH)) > reads)
    new = EventSpec("t4", "Written meanwhile", at(5, 9), at(5, 10))
    google.add_event(**insert_body(new))  # another writer's new block
    turn.set()
    assert await removing == ["t1"]
    assert live_ids(google) == Counter({"t2": 1, "t3": 1, "t4": 1})
