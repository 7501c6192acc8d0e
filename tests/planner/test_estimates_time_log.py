"""Work recorded as hours on tasks (POST /tasks/{id}/time, then done) feeds the estimates
with when it was done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from almanac.models import Workflow
from tests.conftest import ok
from tests.planner.test_estimates_api import plan_for

pytestmark = pytest.mark.usefixtures("generous_rate_limits")


async def test_hours_logged_weeks_ago_count_as_work_of_weeks_ago(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # Each engagement's hours were logged with when they ended, weeks ago, and the tasks
    # marked done now: the runs ended "now", the plan said its latest run was today and
    # recency saw three engagements happen at once.
    wid = library["onboarding"].id
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(weeks=10)
    ends = []
    for week in range(3):
        drafted = await plan_for(client, wid, client_id=1)
        approved = await ok(await client.post(f"/api/v1/planner/plans/{drafted['id']}/approve"))
        end = start + timedelta(weeks=week, hours=2)
        ends.append(end)
        for task in approved["tasks"]:
            body = {"hours": task["estimate_hours"] * 1.5, "ended_at": end.isoformat()}
            await ok(await client.post(f"/api/v1/planner/tasks/{task['id']}/time", json=body))
            await ok(
                await client.patch(f"/api/v1/planner/tasks/{task['id']}", json={"status": "done"})
            )
    runs = await ok(await client.get("/api/v1/planner/execution-runs", params={"limit": 100}))
    assert {r["status"] for r in runs["items"]} == {"completed"}
    assert {datetime.fromisoformat(r["ended_at"]) for r in runs["items"]} == set(ends)
    plan = await plan_for(client, wid, client_id=1)
    for e in plan["estimates"]:
        assert e["runs"] == 12 and e["client_runs"] == 12
        assert datetime.fromisoformat(e["last_run_at"]) == ends[-1]
        assert ends[-1].date().isoformat() in e["note"]


async def test_a_retry_under_the_same_key_with_other_hours_is_a_conflict(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # A second record of 2.5 h under the key of a 1.5 h one answered 200 "duplicate" and
    # kept 1.5 h: the caller's 2.5 h were dropped without a word.
    drafted = await plan_for(client, library["onboarding"].id, client_id=1)
    approved = await ok(await client.post(f"/api/v1/planner/plans/{drafted['id']}/approve"))
    url = f"/api/v1/planner/tasks/{approved['task_ids'][0]}/time"
    first = await ok(await client.post(url, json={"hours": 1.5, "idempotency_key": "k1"}))
    again = await ok(await client.post(url, json={"hours": 1.5, "idempotency_key": "k1"}))
    assert again["duplicate"] and again["actual_hours"] == first["actual_hours"] == 1.5
    other = await client.post(url, json={"hours": 2.5, "idempotency_key": "k1"})
    assert other.status_code == 409, other.text
    assert [e["field"] for e in other.json()["errors"]] == ["hours"]
    task = await ok(await client.get(f"/api/v1/planner/tasks/{approved['task_ids'][0]}"))
    assert task["logged_hours"] == 1.5


async def test_a_retry_naming_the_same_end_in_another_zone_is_a_duplicate(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # The first record said its end in UTC, the retry (another device) the same instant at
    # +02:00: the key's check compared the texts and answered 409 "differs in ended_at".
    drafted = await plan_for(client, library["onboarding"].id, client_id=1)
    approved = await ok(await client.post(f"/api/v1/planner/plans/{drafted['id']}/approve"))
    url = f"/api/v1/planner/tasks/{approved['task_ids'][0]}/time"
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    body = {"hours": 1.5, "idempotency_key": "k1", "ended_at": end.isoformat()}
    await ok(await client.post(url, json=body))
    there = end.astimezone(timezone(timedelta(hours=2))).isoformat()
    again = await ok(await client.post(url, json={**body, "hours": 1.50, "ended_at": there}))
    assert again["duplicate"] and again["actual_hours"] == 1.5
    later = (end + timedelta(minutes=1)).isoformat()
    other = await client.post(url, json={**body, "ended_at": later})
    assert other.status_code == 409, other.text
    assert [e["field"] for e in other.json()["errors"]] == ["ended_at"]
