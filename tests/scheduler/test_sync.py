"""Calendar sync: a new meeting on a placed block gets the plan replanned, once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx

from almanac.scheduler.sync import sync_calendar
from almanac.state import AppState

STEPS = [
    {
        "id": "s",
        "title": "Work",
        "tasks": [
            {"id": "draft", "title": "Draft", "estimate_hours": 1.0},
            {"id": "review", "title": "Review", "estimate_hours": 1.0, "depends_on": ["draft"]},
        ],
    }
]


async def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def test_a_colliding_event_is_replanned_around_and_a_rerun_is_a_no_op(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    api = committed_client
    workflow = await ok(
        await api.post("/api/v1/planner/workflows", json={"name": "Tiny", "steps": STEPS})
    )
    plan = await ok(
        await api.post(
            "/api/v1/planner/plan", json={"intent": "tiny job", "workflow_id": workflow["id"]}
        )
    )
    await ok(await api.post(f"/api/v1/planner/plans/{plan['id']}/approve"))
    today = date.today()
    monday = today + timedelta(days=7 - today.weekday())
    scheduled = await ok(
        await api.post(
            "/api/v1/scheduler/schedule",
            json={"plan_id": plan["id"], "start_date": monday.isoformat(), "dry_run": False},
        )
    )
    first = min(scheduled["blocks"], key=lambda b: b["start"])

    # Nothing collides yet: the sync looks and leaves the plan alone.
    report = await sync_calendar(committed_state)
    assert report.checked == [plan["id"]] and report.replanned == {} and report.failed == {}

    # The user books a meeting on top of the first block.
    await ok(
        await api.post(
            "/api/v1/calendar/events",
            json={"title": "Surprise call", "start": first["start"], "end": first["end"]},
        )
    )
    report = await sync_calendar(committed_state)
    assert list(report.replanned) == [plan["id"]] and report.replanned[plan["id"]] > 0

    window = {
        "start_date": monday.isoformat(),
        "end_date": (monday + timedelta(days=14)).isoformat(),
    }
    events = (await ok(await api.get("/api/v1/scheduler/calendar", params=window)))["events"]
    meeting = next(e for e in events if e["title"] == "Surprise call")
    blocks = [e for e in events if e["almanac"]]
    assert len(blocks) == 2
    m_start, m_end = (
        datetime.fromisoformat(meeting["start"]),
        datetime.fromisoformat(meeting["end"]),
    )
    for b in blocks:
        start, end = datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])
        assert end <= m_start or start >= m_end

    # Replanned once: the next sync finds nothing to do.
    again = await sync_calendar(committed_state)
    assert again.replanned == {} and again.failed == {}
