"""Work a plan's schedule left out, placed by another plan's schedule in a later window:
the run recorded for the first plan keeps its own window, so replanning it stays there, and
writing it again removes every block it no longer holds, wherever it is (the block placed
in the other window stayed in the calendar beside its replacement: twice the hours)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import almanac_entries, make_plan, next_monday

URL = "/api/v1/scheduler"


async def hours_by_task(session: AsyncSession, plan_id: int) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for e in await almanac_entries(session):
        if (e.almanac_id or "").startswith(f"plan{plan_id}-"):
            key = (e.almanac_id or "").split("-")[1]
            out[key] += (e.end_at - e.start_at).total_seconds() / 3600
    return dict(out)


async def placed_by_another_plan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> tuple[int, date]:
    """Plan A scheduled in a one-day window that holds one of its two 6 h tasks; plan B's
    schedule three weeks later places the other. A's id and the start of its window."""
    first, later = next_monday(), next_monday(3)
    a = await make_plan(
        db_session,
        [{"key": "spec", "estimate_hours": 6.0}, {"key": "build", "estimate_hours": 6.0}],
        title="A",
    )
    a_id = a.id
    body = {"plan_id": a_id, "start_date": first.isoformat(), "horizon_days": 1, "dry_run": False}
    r = await sched_client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 200, r.text
    [left_out] = [u["task_key"] for u in r.json()["unplaced"]]  # one of the two fits

    b = await make_plan(db_session, [{"key": "audit", "estimate_hours": 2.0}], title="B")
    body = {"plan_id": b.id, "start_date": later.isoformat(), "horizon_days": 5, "dry_run": False}
    r = await sched_client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 200, r.text
    placed = [p for p in r.json()["placed"] if p["plan_id"] == a_id]
    assert {p["task_key"] for p in placed} == {left_out}, r.text
    assert await hours_by_task(db_session, a_id) == {"spec": 6.0, "build": 6.0}
    return a_id, first


async def test_work_placed_in_another_window_is_not_doubled_by_a_replan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    a_id, first = await placed_by_another_plan(sched_client, db_session)

    r = await sched_client.post(f"{URL}/replan", json={"plan_id": a_id, "dry_run": False})
    assert r.status_code == 200, r.text
    out = r.json()
    # Its own window, not the one of the schedule that placed its left-out work.
    assert datetime.fromisoformat(out["window_start"]).date() == first, out["window_start"]
    shown: dict[str, float] = defaultdict(float)
    for blk in out["blocks"]:
        span = datetime.fromisoformat(blk["end"]) - datetime.fromisoformat(blk["start"])
        shown[blk["task_key"]] += span.total_seconds() / 3600
    # The calendar holds exactly the blocks the answer lists: none left behind elsewhere.
    assert await hours_by_task(db_session, a_id) == dict(shown)
    assert all(h <= 6.0 for h in shown.values()), shown


async def test_a_replan_keeps_work_another_plans_schedule_placed_outside_its_window(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # A replan with nothing changed deleted the 6 h another plan's schedule had placed for
    # this plan in a later window and called the task unplaced, with no move listed.
    a_id, _ = await placed_by_another_plan(sched_client, db_session)

    r = await sched_client.post(f"{URL}/replan", json={"plan_id": a_id})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["unplaced"] == [] and preview["moves"] == [], r.text
    body = {"plan_id": a_id, "dry_run": False, "run_id": preview["run_id"]}
    r = await sched_client.post(f"{URL}/replan", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["unplaced"] == [], r.text
    assert await hours_by_task(db_session, a_id) == {"spec": 6.0, "build": 6.0}
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": a_id, "dry_run": False})
    assert r.status_code == 200, r.text
    assert await hours_by_task(db_session, a_id) == {"spec": 6.0, "build": 6.0}
