"""A replan's preview is applied by its `run_id` at /replan, as a schedule's is at /schedule:
exactly what was shown is written, with the preview's reason; a preview the calendar has
moved past is a 409, and `run_id` with a dry run a 422 naming it, nothing written."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import almanac_entries, at, make_plan, next_monday, run_count
from .test_whole_calendar import chain, schedule

URL = "/api/v1/scheduler/replan"


async def meeting(client: httpx.AsyncClient, start: datetime, end: datetime) -> None:
    body = {"title": "Client call", "start": start.isoformat(), "end": end.isoformat()}
    r = await client.post("/api/v1/calendar/events", json=body)
    assert r.status_code in (200, 201), r.text


async def test_a_replan_preview_is_written_exactly_by_its_run_id(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    monday = next_monday()
    plan = await make_plan(db_session, chain(3, 2.0))
    plan_id = plan.id  # a 4xx expires the row
    r = await schedule(sched_client, plan_id, dry_run=False)
    assert r.status_code == 200 and r.json()["blocks"], r.text
    first = r.json()["blocks"][0]
    await meeting(
        sched_client, datetime.fromisoformat(first["start"]), datetime.fromisoformat(first["end"])
    )
    r = await sched_client.post(URL, json={"plan_id": plan_id, "reason": "a call came in"})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["moves"] and not preview["applied"]

    # With a dry run, run_id is refused by name and nothing is written.
    runs = await run_count(db_session, plan_id)
    body = {"plan_id": plan_id, "run_id": preview["run_id"]}
    r = await sched_client.post(URL, json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "run_id", r.text
    assert await run_count(db_session, plan_id) == runs

    r = await sched_client.post(URL, json={**body, "dry_run": False})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["applied"] and out["reason"] == "a call came in"
    assert out["previous_run_id"] == preview["previous_run_id"]
    shown = {(b["almanac_id"], b["start"], b["end"]) for b in preview["blocks"]}
    assert {(b["almanac_id"], b["start"], b["end"]) for b in out["blocks"]} == shown
    written = {
        (e.almanac_id, e.start_at, e.end_at)
        for e in await almanac_entries(db_session)
        if (e.almanac_id or "").startswith(f"plan{plan_id}-")
    }
    assert written == {
        (b["almanac_id"], datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
        for b in preview["blocks"]
    }

    # A second preview, then the calendar changes: applying it is a 409 naming run_id.
    r = await sched_client.post(URL, json={"plan_id": plan_id})
    assert r.status_code == 200, r.text
    stale = r.json()["run_id"]
    await meeting(sched_client, at(monday, 16), at(monday, 17))
    before = await almanac_entries(db_session)
    r = await sched_client.post(URL, json={"plan_id": plan_id, "run_id": stale, "dry_run": False})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "run_id", r.text
    assert {(e.almanac_id, e.start_at, e.end_at) for e in await almanac_entries(db_session)} == {
        (e.almanac_id, e.start_at, e.end_at) for e in before
    }


async def test_a_preview_is_applied_at_the_endpoint_that_made_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # /replan wrote a /schedule preview (also a plan's first schedule, which /replan
    # refuses), answering it as a replan with no reason and no previous run; /schedule
    # wrote a replan's preview the same way.
    plan = await make_plan(db_session, chain(3, 2.0))
    plan_id = plan.id  # a 4xx expires the row
    r = await schedule(sched_client, plan_id)
    assert r.status_code == 200, r.text
    body = {"plan_id": plan_id, "dry_run": False, "run_id": r.json()["run_id"]}
    r = await sched_client.post(URL, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "run_id", r.text
    assert await almanac_entries(db_session) == []

    r = await schedule(sched_client, plan_id, dry_run=False)
    assert r.status_code == 200, r.text
    r = await sched_client.post(URL, json={"plan_id": plan_id, "reason": "check"})
    assert r.status_code == 200, r.text
    body = {"plan_id": plan_id, "dry_run": False, "run_id": r.json()["run_id"]}
    r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "run_id", r.text
    r = await sched_client.post(URL, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["reason"] == "check" and r.json()["applied"], r.text
