"""Two imports of the same events at once, in other orders (two syncs of one calendar, a
retry of an export that lists them differently): both succeed, each event stored once."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from almanac.models import CalendarEntry
from almanac.state import AppState

URL = "/api/v1/calendar/import"


def ics(uids: list[str], day: datetime) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:Meeting {uid}\r\n"
        f"DTSTART:{day:%Y%m%d}T{9 + n % 8:02d}0000Z\r\n"
        f"DTEND:{day:%Y%m%d}T{9 + n % 8:02d}3000Z\r\nEND:VEVENT\r\n"
        for n, uid in enumerate(uids)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{events}END:VCALENDAR\r\n"


async def test_imports_of_the_same_events_in_other_orders_all_succeed(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    """Each import wrote its events in file order: two files listing the same UIDs in other
    orders each waited on a row the other had written, and Postgres failed one (a 500)."""
    day = datetime.now(UTC) + timedelta(days=10)
    uids = [f"meeting-{n:03d}@example.com" for n in range(120)]
    rng = random.Random(5)
    orders = [uids, uids[::-1], *(rng.sample(uids, len(uids)) for _ in range(3))]
    answers = await asyncio.gather(
        *(
            committed_client.post(
                URL, content=ics(o, day), headers={"content-type": "text/calendar"}
            )
            for o in orders
        )
    )
    assert [a.status_code for a in answers] == [200] * len(orders), [
        a.text[:200] for a in answers if a.status_code != 200
    ]
    assert sum(a.json()["created"] for a in answers) == len(uids)
    async with committed_state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(CalendarEntry))
    assert count == len(uids)
