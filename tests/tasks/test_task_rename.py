"""A task renamed carries its new title onto its calendar blocks at once, not at the next
schedule: in the built-in calendar and its .ics feed; other tasks' and plans' blocks stay as
they were, and the blocks do not move."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import icalendar
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scheduler.conftest import TZ, almanac_entries

from .test_block_fitting import URL, of, stored, task_id, with_another_plan


async def titles(session: AsyncSession) -> dict[str, str]:
    """Almanac's blocks' titles in the built-in calendar, by Almanac id."""
    return {e.almanac_id or "": e.title for e in await almanac_entries(session)}


async def feed_titles(api: httpx.AsyncClient) -> dict[str, str]:
    start = (datetime.now(TZ) - timedelta(days=3)).isoformat()
    r = await api.get("/api/v1/calendar/feed.ics", params={"start": start})
    assert r.status_code == 200, r.text
    return {
        str(ev["X-ALMANAC-ID"]): str(ev["SUMMARY"])
        for ev in icalendar.Calendar.from_ical(r.content).walk("VEVENT")
        if "X-ALMANAC-ID" in ev
    }


async def test_a_new_title_renames_the_tasks_blocks_at_once(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    tasks = [{"key": "build", "estimate_hours": 3.0}, {"key": "ship", "estimate_hours": 1.0}]
    plan, other = await with_another_plan(db_session, sched_client, tasks)
    mine, rest = f"plan{plan.id}-build-", f"plan{plan.id}-ship-"
    before, spans = await titles(db_session), await stored(db_session)
    assert of(before, mine) and set(of(before, mine).values()) != {"Build the new site"}

    tid = await task_id(db_session, plan.id, "build")
    r = await sched_client.patch(f"{URL}/{tid}", json={"title": "Build the new site"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["task"]["title"] == "Build the new site"
    assert out["blocks"] == [] and out["released_blocks"] == 0  # nothing moved or freed
    assert sorted(out["calendar"]["updated"]) == sorted(of(before, mine))

    after = await titles(db_session)
    assert set(of(after, mine).values()) == {"Build the new site"}
    assert {k: v for k, v in after.items() if not k.startswith(mine)} == {
        k: v for k, v in before.items() if not k.startswith(mine)
    }
    assert of(after, rest) and of(after, f"plan{other.id}-")
    assert await stored(db_session) == spans  # the blocks stay where they were
    shown = await feed_titles(sched_client)
    assert set(of(shown, mine).values()) == {"Build the new site"}


async def test_a_new_title_and_a_lower_estimate_together(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    plan, _ = await with_another_plan(
        db_session, sched_client, [{"key": "build", "estimate_hours": 5.0}]
    )
    mine = f"plan{plan.id}-build-"
    tid = await task_id(db_session, plan.id, "build")
    body = {"title": "Build it", "estimate_hours": 2.0}
    r = await sched_client.patch(f"{URL}/{tid}", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["blocks"]  # the latest blocks freed or shortened
    left = of(await titles(db_session), mine)
    assert left and set(left.values()) == {"Build it"}
    # One answer for both writes: every block left was updated (renamed, or also shortened).
    assert set(left) <= set(out["calendar"]["updated"]), out["calendar"]
    assert not set(out["calendar"]["updated"]) & set(out["calendar"]["unchanged"])
