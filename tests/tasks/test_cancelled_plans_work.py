"""Work on a cancelled plan: the hours already recorded keep their day, and its tasks are
not finished (or their hours recorded) behind the plan's back."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.state import AppState
from tests.scheduler.conftest import make_plan
from tests.tasks.test_tasks_api import URL, ids

PLANS = "/api/v1/planner/plans"


async def _worked(client: httpx.AsyncClient, mode: str, day: str) -> float:
    r = await client.post("/api/v1/observer/reflect", params={"mode": mode, "date": day})
    assert r.status_code == 200, r.text
    return float(r.json()["report"]["numbers"]["hours_actual"])


async def _cancel(client: httpx.AsyncClient, plan_id: int) -> None:
    r = await client.post(f"{PLANS}/{plan_id}/status", json={"status": "cancelled"})
    assert r.status_code == 200, r.text


async def test_hours_recorded_ahead_keep_their_day_when_the_plan_is_cancelled(
    sched_state: AppState, sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """An entry may end up to a day ahead (a clock running fast). Cancelling the plan closed
    its run at now, before that entry's work began: the day of the work then lost its
    hours, while its week still counted them (an outside probe, twice)."""
    now = datetime.now(UTC)
    # A zone where it is past 01:00, so the first half hour of tomorrow is within a day.
    zone = "UTC" if now.hour >= 1 else "Asia/Tokyo"
    sched_state.settings = sched_state.settings.model_copy(update={"timezone": zone})
    tomorrow = now.astimezone(ZoneInfo(zone)).date() + timedelta(days=1)
    ended = datetime.combine(tomorrow, time(0, 30), tzinfo=ZoneInfo(zone))
    plan_id = (await make_plan(db_session, [{"key": "work", "estimate_hours": 4.0}])).id
    task = (await ids(db_session, plan_id))["work"]
    r = await sched_client.post(
        f"{URL}/{task}/time", json={"hours": 0.5, "ended_at": ended.isoformat()}
    )
    assert r.status_code == 200, r.text
    day = tomorrow.isoformat()
    assert await _worked(sched_client, "daily", day) == 0.5
    week = await _worked(sched_client, "weekly", day)
    await _cancel(sched_client, plan_id)
    assert await _worked(sched_client, "daily", day) == 0.5  # it was 0
    assert await _worked(sched_client, "weekly", day) == week


async def test_a_task_of_a_cancelled_plan_is_not_finished_or_reopened(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """`log` on a task of a cancelled plan was refused, but `done --hours` (a PATCH to done,
    then the hours) made it done with its hours, counted in reflections and learnt from by
    the next plan, while the plan stayed cancelled."""
    plan_id = (await make_plan(db_session, [{"key": "a"}, {"key": "b"}])).id
    by_key = await ids(db_session, plan_id)
    await _cancel(sched_client, plan_id)
    for status in ("done", "todo", "in_progress"):
        r = await sched_client.patch(f"{URL}/{by_key['a']}", json={"status": status})
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["errors"][0]["field"] == "status", problem
        assert f"plan {plan_id} is cancelled" in problem["detail"], problem
    task = (await sched_client.get(f"{URL}/{by_key['a']}")).json()
    assert task["status"] == "cancelled" and task["finished_at"] is None, task
    # Other changes to it stay possible (a title, for the record).
    r = await sched_client.patch(f"{URL}/{by_key['a']}", json={"title": "Not needed after all"})
    assert r.status_code == 200, r.text


async def test_a_cancelled_task_is_reopened_before_it_is_done(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A task cancelled on its own (its plan going on): `done` on it recorded hours that
    `log` refuses. It is reopened first (status todo), then worked and finished."""
    plan = await make_plan(db_session, [{"key": "a"}, {"key": "b"}])
    tid = (await ids(db_session, plan.id))["a"]
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "done"})
    assert r.status_code == 409, r.text
    assert "reopen it first" in r.json()["detail"], r.text
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "todo"})
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "done"})
    assert r.status_code == 200 and r.json()["task"]["status"] == "done", r.text
