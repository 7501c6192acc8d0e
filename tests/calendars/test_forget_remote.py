"""Forgetting a client deletes the blocks Almanac wrote for them to CalDAV (a real Radicale)
and Google (the wire double), counted per store; another client's blocks and the user's own
events stay. A calendar that is down: Postgres forgets at once, the answer says the remote
deletion is queued, and the queued job finishes it when the calendar is back."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars.caldav import CalDAVCalendar
from almanac.calendars.google import GoogleCalendar
from almanac.config import (
    CalendarSettings,
    GoogleCalendarSettings,
)
from almanac.jobs.context import set_state
from almanac.models import Plan
from almanac.scheduler.forgetting import TASK, delete_plan_blocks
from almanac.scheduler.tasks import forget_calendar_blocks
from tests.calendars.conftest import (
    BREAKFAST,
    Clients,
    States,
    add_breakfast,
    next_week,
    queued_args,
)
from tests.calendars.test_google import KEY, connect
from tests.doubles.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogle, hour
from tests.scheduler.conftest import make_plan, next_monday

TASKS = [
    {"key": "research", "estimate_hours": 2.0, "priority": 3},
    {"key": "draft", "estimate_hours": 2.0, "depends_on": ["research"]},
]
FORGOTTEN, KEPT = 901, 902


async def scheduled_plans(session: AsyncSession, api: httpx.AsyncClient) -> dict[int, Plan]:
    """One approved plan per client, each written to the calendar."""
    plans = {}
    for client in (FORGOTTEN, KEPT):
        plan = await make_plan(session, TASKS, title=f"Plan of client {client}")
        plan.client_id = client
        await session.flush()
        body = {
            "plan_id": plan.id,
            "start_date": next_monday().isoformat(),
            "horizon_days": 5,
            "dry_run": False,
        }
        r = await api.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["calendar"]["created"], r.text
        plans[client] = plan
    return plans


async def almanac_ids(calendar: Any) -> list[str]:
    return sorted(e.almanac_id for e in await calendar.events(*next_week()) if e.almanac_id)


def of_plan(ids: list[str], plan: Plan) -> list[str]:
    """The ids of `plan`'s blocks among `ids`."""
    return [a for a in ids if a.startswith(f"plan{plan.id}-")]


async def forget(api: httpx.AsyncClient) -> dict[str, Any]:
    r = await api.delete(f"/api/v1/memory/subjects/client/{FORGOTTEN}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# -- CalDAV ------------------------------------------------------------------------------------


async def test_forgetting_a_client_deletes_its_caldav_blocks(
    state_for: States,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    raw_calendar: Any,
    provider: CalDAVCalendar,
) -> None:
    state = state_for(caldav_settings)
    add_breakfast(raw_calendar, 7)
    async with calendar_client_for(state) as api:
        plans = await scheduled_plans(db_session, api)
        before = await almanac_ids(provider)
        theirs = of_plan(before, plans[FORGOTTEN])
        kept = of_plan(before, plans[KEPT])
        assert theirs and kept

        body = await forget(api)

    assert body["deleted"]["caldav_events"] == len(theirs)
    assert body["pending"] == {}
    assert await almanac_ids(provider) == kept
    titles = [e.title for e in await provider.events(*next_week())]
    assert BREAKFAST in titles
    # The job queued in the transaction carries plan ids and a span, no content; a rerun
    # (the worker picking it up after the inline attempt) finds nothing left.
    args = await queued_args(db_session, TASK)
    assert args["plan_ids"] == [plans[FORGOTTEN].id]
    assert set(args) == {"plan_ids", "start", "end"}
    assert await delete_plan_blocks(db_session, state.settings, cache, args) == 0
    assert await almanac_ids(provider) == kept


async def test_a_caldav_server_that_is_down_gets_the_deletion_later(
    state_for: States,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    caldav_gone: CalendarSettings,
    provider: CalDAVCalendar,
) -> None:
    up = state_for(caldav_settings)
    down = state_for(caldav_gone)
    async with calendar_client_for(up) as api:
        plans = await scheduled_plans(db_session, api)
    theirs = of_plan(await almanac_ids(provider), plans[FORGOTTEN])
    assert theirs

    async with calendar_client_for(down) as api:
        body = await forget(api)

    assert "caldav_events" not in body["deleted"]
    pending = body["pending"]["caldav_events"]
    assert "queued as job" in pending and "retried" in pending
    # Postgres forgot at once: the plan is gone, whatever the calendar does.
    gone = await db_session.scalar(select(Plan).where(Plan.id == plans[FORGOTTEN].id))
    assert gone is None
    assert set(theirs) <= set(await almanac_ids(provider))  # still there: the server is down

    # The calendar is back: the queued job (the worker's task, run here) finishes the work.
    args = await queued_args(db_session, TASK)
    set_state(up)
    await forget_calendar_blocks.func(**args)  # type: ignore[attr-defined]
    remaining = await almanac_ids(provider)
    assert not of_plan(remaining, plans[FORGOTTEN])
    assert of_plan(remaining, plans[KEPT])


# -- Google ------------------------------------------------------------------------------------


async def test_forgetting_a_client_deletes_its_google_blocks(
    state_for: States,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    google: FakeGoogle,
) -> None:
    cal = GoogleCalendarSettings(
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_api_base_url=google.root_url,
        google_token_uri=google.token_uri,
        token_key=KEY,
    )
    state = state_for(cal)
    await connect(db_session, google)
    day = next_monday()
    google.add_event(
        summary="The user's own lunch",
        start=hour(day, 12, tz="Europe/Berlin"),
        end=hour(day, 13, tz="Europe/Berlin"),
    )
    reader = GoogleCalendar.from_settings(cal, session=db_session, cache=cache)
    try:
        async with calendar_client_for(state) as api:
            plans = await scheduled_plans(db_session, api)
            before = await almanac_ids(reader)
            theirs = of_plan(before, plans[FORGOTTEN])
            kept = of_plan(before, plans[KEPT])
            assert theirs and kept
            body = await forget(api)
        assert body["deleted"]["google_events"] == len(theirs)
        assert body["pending"] == {}
        assert await almanac_ids(reader) == kept
        live = [e.get("summary") for e in google.live_events()]
        assert "The user's own lunch" in live
        deletes = google.api_requests("DELETE") + google.api_requests("POST", "/batch")
        assert deletes, "nothing was deleted at Google"
        assert json.dumps(await queued_args(db_session, TASK)).count("plan_ids") == 1
    finally:
        await reader.close()
