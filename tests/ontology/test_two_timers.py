"""Two timers on different tasks at once: allowed (a call taken while a report is timed),
but said, since both count the time from then on and one is usually forgotten."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Task
from tests.ontology.helpers import API, steps

R = f"{API}/execution-runs"


async def _task(db_session: AsyncSession, title: str) -> int:
    row = Task(title=title, estimate_hours=1.0)
    db_session.add(row)
    await db_session.commit()
    return row.id


async def test_a_second_timer_on_another_task_starts_with_a_warning_naming_the_first(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    report, call, email = [await _task(db_session, t) for t in ("Report", "Call", "Email")]
    first = await client.post(R, json={"task_id": report})
    assert first.status_code == 201 and first.json()["warnings"] == [], first.text
    second = await client.post(R, json={"task_id": call})
    assert second.status_code == 201, second.text  # not refused
    [warning] = second.json()["warnings"]
    assert f"run {first.json()['id']}" in warning and "Report" in warning, warning
    assert second.json()["status"] == "in_progress"
    # Stopped, the first no longer runs: the next timer is warned of the second only.
    assert (await client.post(f"{R}/{first.json()['id']}/stop")).status_code == 200
    third = await client.post(R, json={"task_id": email})
    [warning] = third.json()["warnings"]
    assert f"run {second.json()['id']}" in warning and "Call" in warning, warning
    # A run of no task (a template's) is timed apart from tasks: no warning either way.
    t = await client.post(f"{API}/process-templates", json={"name": "T", "checklist": steps()})
    alone = await client.post(R, json={"process_template_id": t.json()["id"]})
    assert alone.status_code == 201 and alone.json()["warnings"] == [], alone.text
    # Reading a run back carries no warning: it is said when the timer starts.
    got = await client.get(f"{R}/{third.json()['id']}")
    assert got.json()["warnings"] == []


async def test_starting_a_timer_puts_a_todo_task_in_progress(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """Time recorded on a task (POST /tasks/{id}/time) moved it to in_progress; a timer
    started on it left it todo, listed as not begun while it was being worked on."""
    task = await _task(db_session, "Draft the proposal")
    started = await client.post(R, json={"task_id": task})
    assert started.status_code == 201, started.text
    shown = await client.get(f"/api/v1/planner/tasks/{task}")
    assert shown.json()["status"] == "in_progress", shown.text
    # Stopping keeps it in progress: done is the user's word, not the timer's.
    assert (await client.post(f"{R}/{started.json()['id']}/stop")).status_code == 200
    shown = await client.get(f"/api/v1/planner/tasks/{task}")
    assert shown.json()["status"] == "in_progress", shown.text


async def test_a_stop_before_the_start_says_the_start_on_the_users_clock(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """The refusal quoted the start in UTC to the microsecond
    ("2026-12-04T07:12:50.191273+00:00") while `runs list` showed it on the user's clock."""
    import re
    from datetime import UTC, datetime, timedelta

    task = await _task(db_session, "Call the client")
    started = await client.post(R, json={"task_id": task})
    early = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    r = await client.post(f"{R}/{started.json()['id']}/stop", json={"ended_at": early})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert re.search(r"before started_at \(\w\w\w \d\d \w\w\w \d\d:\d\d\)", detail), detail


async def test_a_timer_on_a_done_task_says_when_it_was_finished_on_the_users_clock(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """The refusal said "finished 2026-12-01T10:00+00:00" (UTC, ISO) where every other
    message of runs says times on the user's clock ("started Fri 04 Dec 17:02")."""
    import re
    from datetime import UTC, datetime

    row = Task(
        title="Send the invoice",
        estimate_hours=1.0,
        status="done",
        finished_at=datetime.now(UTC).replace(microsecond=0),
    )
    db_session.add(row)
    await db_session.commit()
    r = await client.post(R, json={"task_id": row.id})
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert re.search(r"\(finished \w\w\w \d\d \w\w\w \d\d:\d\d\)", detail), detail
    assert "+00:00" not in detail
