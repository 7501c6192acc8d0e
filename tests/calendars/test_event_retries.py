"""Creating a user event in the built-in calendar, retried at once and after, over HTTP with
real commits: one event, the retry answered 200 with the same event."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from almanac.models import CalendarEntry
from almanac.state import AppState
from tests.conftest import ok

URL = "/api/v1/calendar/events"
EVENT = {
    "title": "Dentist",
    "start": "2030-03-04T10:00:00+01:00",
    "end": "2030-03-04T11:00:00+01:00",
    "idempotency_key": "dentist-2030-03-04",
}


async def test_the_same_event_sent_twice_at_once_and_again_is_stored_once(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    gate = asyncio.Barrier(2)

    async def send() -> httpx.Response:
        await gate.wait()
        return await committed_client.post(URL, json=EVENT)

    one, two = await asyncio.gather(send(), send())
    assert sorted([one.status_code, two.status_code]) == [200, 201], (one.text, two.text)
    again = await ok(await committed_client.post(URL, json=EVENT), 200)
    assert again["id"] == one.json()["id"] == two.json()["id"]
    async with committed_state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(CalendarEntry))
    assert count == 1
