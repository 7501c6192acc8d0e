"""Dates whose meaning ties them to the present are bounded near it (almanac.types
`near_now`/`near_today`): 1901 and 2199 are within the years any field accepts, but
no work was recorded, no block is moved, no deadline falls and no sprint runs then.
Each case was accepted (and most written) before; now a 422 naming the field and the
reason, and nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PAST, FUTURE = "1901-01-07T09:00:00Z", "2199-01-07T09:00:00Z"
TASK = "/api/v1/planner/tasks/1"
RUNS = "/api/v1/planner/execution-runs"
MOVE = "/api/v1/scheduler/calendar/plan1-review-0"

CASES: list[tuple[str, str, dict[str, Any], Any, str]] = [
    # method, path, query params, JSON body, the field the problem must name
    ("POST", f"{TASK}/time", {}, {"hours": 1, "ended_at": FUTURE}, "ended_at"),
    ("POST", f"{TASK}/time", {}, {"hours": 1, "ended_at": PAST}, "ended_at"),
    ("POST", RUNS, {}, {"process_template_id": 1, "started_at": FUTURE}, "started_at"),
    ("POST", RUNS, {}, {"process_template_id": 1, "started_at": PAST}, "started_at"),
    ("POST", f"{RUNS}/1/stop", {}, {"ended_at": FUTURE}, "ended_at"),
    ("PUT", MOVE, {}, {"start": FUTURE, "end": "2199-01-07T10:00:00Z"}, "start"),
    ("PUT", MOVE, {}, {"start": PAST, "end": "1901-01-07T10:00:00Z"}, "start"),
    (
        "POST",
        "/api/v1/scheduler/schedule",
        {},
        {"plan_id": 1, "start_date": "2199-01-07"},
        "start_date",
    ),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan it", "deadline": FUTURE}, "deadline"),
    ("PATCH", TASK, {}, {"deadline": FUTURE}, "deadline"),
    ("PATCH", TASK, {}, {"deadline": PAST}, "deadline"),
    (
        "POST",
        "/api/v1/scheduler/sprints",
        {},
        {"week_start": "2199-01-07", "capacity_hrs": 30},
        "week_start",
    ),
    (
        "POST",
        "/api/v1/scheduler/sprints",
        {},
        {"week_start": "1901-01-07", "capacity_hrs": 30},
        "week_start",
    ),
    ("POST", "/api/v1/observer/reflect", {"mode": "weekly", "date": "2199-01-07"}, None, "date"),
    ("POST", "/api/v1/observer/reflect", {"mode": "daily", "date": "1901-01-07"}, None, "date"),
]


@pytest.mark.parametrize(("method", "path", "params", "body", "field"), CASES)
async def test_a_date_centuries_away_is_422_naming_the_field(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    method: str,
    path: str,
    params: dict[str, Any],
    body: Any,
    field: str,
) -> None:
    r = await client.request(method, path, params=params, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    named = [e for e in errors if e["field"] == field]
    assert named, errors
    assert any(w in named[0]["message"] for w in ("in the past", "in the future", "ahead"))
    for table in ("execution_runs", "sprints", "reflections", "plans"):
        assert await db_session.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


async def test_dates_near_now_are_still_accepted(client: httpx.AsyncClient) -> None:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    for week in (monday - timedelta(weeks=200), monday + timedelta(weeks=50)):
        r = await client.post(
            "/api/v1/scheduler/sprints", json={"week_start": str(week), "capacity_hrs": 30}
        )
        assert r.status_code == 201, r.text
    deadline = (datetime.now(UTC) + timedelta(days=9 * 365)).isoformat()
    r = await client.post("/api/v1/planner/plan", json={"intent": "plan it", "deadline": deadline})
    # (No workflow matches the intent: a 422, but not about the deadline.)
    assert "deadline" not in [e["field"] for e in r.json().get("errors", [])], r.text
    r = await client.post(
        "/api/v1/observer/reflect",
        params={"mode": "daily", "date": str(date(today.year - 4, 1, 5))},
    )
    assert r.status_code == 200, r.text
