"""Execution runs: start/stop, variance computed by Postgres, idempotent identifiers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import ExecutionRun, Task
from almanac.state import AppState
from tests.ontology.helpers import API, fields, steps

R = f"{API}/execution-runs"


async def _template(client: httpx.AsyncClient) -> int:
    r = await client.post(f"{API}/process-templates", json={"name": "T", "checklist": steps()})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _task(db_session: AsyncSession, template_id: int | None, hours: float | None) -> int:
    row = Task(process_template_id=template_id, title="Write the report", estimate_hours=hours)
    db_session.add(row)
    await db_session.commit()  # so a later failing request's rollback keeps it
    return row.id


async def _runs(db_session: AsyncSession) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(ExecutionRun)) or 0)


async def test_start_stop_variance_from_postgres(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    template = await _template(client)
    task_id = await _task(db_session, template, 2.0)
    r = await client.post(R, json={"task_id": task_id, "started_at": "2026-03-02T09:00:00+01:00"})
    assert r.status_code == 201, r.text
    run = r.json()
    # The estimate defaults to the task's; the template comes from the task.
    assert run["estimated_hours"] == 2.0 and run["process_template_id"] == template
    assert run["status"] == "in_progress" and run["variance_pct"] is None

    r = await client.post(f"{R}/{run['id']}/stop", json={"actual_hours": 3.0})
    assert r.status_code == 200, r.text
    stopped = r.json()
    assert stopped["status"] == "completed" and stopped["actual_hours"] == 3.0
    assert stopped["variance_pct"] == 50.0
    assert stopped["ended_at"] is not None
    db_value = await db_session.scalar(
        text("SELECT variance_pct FROM execution_runs WHERE id = :id"), {"id": run["id"]}
    )
    assert db_value == 50.0
    assert (await client.get(f"{R}/{run['id']}")).json() == stopped


async def test_stop_defaults_to_elapsed_hours(client: httpx.AsyncClient):
    template = await _template(client)
    run = (
        await client.post(
            R,
            json={
                "process_template_id": template,
                "estimated_hours": 4,
                "started_at": "2026-03-02T09:00:00Z",
            },
        )
    ).json()
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": "2026-03-02T12:00:00+01:00"})
    assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] == 2.0  # 09:00Z to 11:00Z
    assert r.json()["variance_pct"] == -50.0


async def test_stop_without_body_uses_now(client: httpx.AsyncClient):
    template = await _template(client)
    started = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    run = (
        await client.post(R, json={"process_template_id": template, "started_at": started})
    ).json()
    r = await client.post(f"{R}/{run['id']}/stop")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["actual_hours"] >= 1.0 and body["variance_pct"] is None  # no estimate
    assert datetime.fromisoformat(body["ended_at"]) >= datetime.fromisoformat(body["started_at"])


async def test_a_stop_retried_with_the_same_end_returns_the_run(client: httpx.AsyncClient):
    """A client whose answer was lost sends the same stop again: it gets the run it
    stopped (200), not a 409 it cannot tell from a conflict; another end is still a 409."""
    template = await _template(client)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    run = (
        await client.post(
            R, json={"process_template_id": template, "started_at": start.isoformat()}
        )
    ).json()
    stop = {"ended_at": (start + timedelta(hours=2)).isoformat(), "actual_hours": 1.5}
    first = await client.post(f"{R}/{run['id']}/stop", json=stop)
    assert first.status_code == 200, first.text
    again = await client.post(f"{R}/{run['id']}/stop", json=stop)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    later = {**stop, "ended_at": (start + timedelta(hours=2, minutes=30)).isoformat()}
    assert (await client.post(f"{R}/{run['id']}/stop", json=later)).status_code == 409
    other = {**stop, "actual_hours": 2}
    assert (await client.post(f"{R}/{run['id']}/stop", json=other)).status_code == 409
    assert (await client.get(f"{R}/{run['id']}")).json() == first.json()


async def test_stop_twice_is_409(client: httpx.AsyncClient):
    template = await _template(client)
    run = (await client.post(R, json={"process_template_id": template})).json()
    assert (await client.post(f"{R}/{run['id']}/stop", json={"actual_hours": 1})).status_code == 200
    again = await client.post(f"{R}/{run['id']}/stop", json={"actual_hours": 2})
    assert again.status_code == 409 and "already stopped" in again.json()["detail"]
    assert [e["field"] for e in again.json()["errors"]] == ["run_id"]
    assert (await client.get(f"{R}/{run['id']}")).json()["actual_hours"] == 1
    assert (await client.post(f"{R}/424242/stop")).status_code == 404


async def test_idempotent_run_identifier(client: httpx.AsyncClient, db_session: AsyncSession):
    template = await _template(client)
    body = {"process_template_id": template, "estimated_hours": 1.5, "run_identifier": "run-1"}
    first = await client.post(R, json=body)
    assert first.status_code == 201
    retry = await client.post(R, json=body)
    assert retry.status_code == 200 and retry.json() == first.json()
    # A retry may leave out fields; only fields it gives must agree.
    short = await client.post(R, json={"process_template_id": template, "run_identifier": "run-1"})
    assert short.status_code == 200 and short.json()["id"] == first.json()["id"]
    different = await client.post(R, json={**body, "estimated_hours": 9})
    assert different.status_code == 409 and "estimated_hours" in different.json()["detail"]
    assert [e["field"] for e in different.json()["errors"]] == ["estimated_hours"]
    assert await _runs(db_session) == 1


async def test_concurrent_retries_make_one_run(committed_client: httpx.AsyncClient):
    r = await committed_client.post(
        f"{API}/process-templates", json={"name": "T", "checklist": steps()}
    )
    template = r.json()["id"]
    body = {"process_template_id": template, "run_identifier": "same-key", "estimated_hours": 1}
    answers = await asyncio.gather(*(committed_client.post(R, json=body) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = (await committed_client.get(R, params={"process_template_id": template})).json()
    assert listed["total"] == 1


async def test_concurrent_retries_on_a_task_make_one_run_and_no_409(
    committed_client: httpx.AsyncClient, committed_state: AppState
):
    """The retries wait on the task's lock; the one behind the first sees its run, not a
    timer still running that it must stop first."""
    r = await committed_client.post(
        f"{API}/process-templates", json={"name": "T", "checklist": steps()}
    )
    template = r.json()["id"]
    async with committed_state.sessionmaker() as session:
        task = Task(process_template_id=template, title="Write the report", estimate_hours=2)
        session.add(task)
        await session.commit()
        task_id = task.id
    body = {"task_id": task_id, "run_identifier": "same-task-key"}
    answers = await asyncio.gather(*(committed_client.post(R, json=body) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_start_validation(client: httpx.AsyncClient, db_session: AsyncSession):
    template = await _template(client)
    other = await _template(client)
    task_id = await _task(db_session, template, 1.0)
    cases = [
        ({}, "body"),
        ({"task_id": 31337}, "task_id"),
        ({"process_template_id": 31337}, "process_template_id"),
        ({"process_template_id": other, "task_id": task_id}, "task_id"),
        ({"process_template_id": template, "started_at": "2026-03-02T09:00:00"}, "started_at"),
        (
            {"process_template_id": template, "started_at": "0001-01-01T00:00:00+14:00"},
            "started_at",
        ),
        ({"process_template_id": template, "estimated_hours": -1}, "estimated_hours"),
        ({"process_template_id": template, "estimated_hours": "NaN"}, "estimated_hours"),
        ({"process_template_id": template, "run_identifier": ""}, "run_identifier"),
        ({"process_template_id": 0}, "process_template_id"),
    ]
    for body, field in cases:
        r = await client.post(R, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in fields(r), (body, r.json())
    assert await _runs(db_session) == 0


async def test_stop_validation(client: httpx.AsyncClient):
    template = await _template(client)
    run = (
        await client.post(
            R, json={"process_template_id": template, "started_at": "2026-03-02T09:00:00Z"}
        )
    ).json()
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": "2026-03-02T08:00:00Z"})
    assert r.status_code == 422 and fields(r) == ["ended_at"]
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": "2026-03-02T10:00:00"})
    assert r.status_code == 422 and fields(r) == ["ended_at"]
    r = await client.post(f"{R}/{run['id']}/stop", json={"actual_hours": -2})
    assert r.status_code == 422 and fields(r) == ["actual_hours"]
    assert (await client.get(f"{R}/{run['id']}")).json()["status"] == "in_progress"
    assert (await client.post(f"{R}/0/stop")).status_code == 422


async def test_stop_with_more_hours_than_between_its_start_and_end_is_422(
    client: httpx.AsyncClient,
):
    """A run from 09:00 to 10:00 stopped with actual_hours 3 was stored as 3 h of work done
    in one hour (and learned from); more than the span between its start and the end given
    (beyond 36 s of rounding) is a 422 naming actual_hours, and the run stays open."""
    template = await _template(client)
    run = (
        await client.post(
            R, json={"process_template_id": template, "started_at": "2026-03-02T09:00:00Z"}
        )
    ).json()
    end = "2026-03-02T10:00:00Z"
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": end, "actual_hours": 3})
    assert r.status_code == 422, r.text
    assert fields(r) == ["actual_hours"] and "1 h" in r.json()["errors"][0]["message"], r.text
    assert (await client.get(f"{R}/{run['id']}")).json()["status"] == "in_progress"
    # Rounded up to the hundredth: 1.01 h for 1 h passes; fewer hours than the span too.
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": end, "actual_hours": 1.01})
    assert r.status_code == 200 and r.json()["actual_hours"] == 1.01, r.text
    # A run recorded at one instant (its end at its start) says nothing of how long it took.
    at = "2026-03-03T09:00:00Z"
    run = (await client.post(R, json={"process_template_id": template, "started_at": at})).json()
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": at, "actual_hours": 3})
    assert r.status_code == 200 and r.json()["actual_hours"] == 3, r.text


async def test_true_and_false_are_no_hours_or_ids(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """pydantic's lax mode read true as 1: a run of task 1 with 1 h estimated and stopped
    at 1 h of work."""
    template = await _template(client)
    task_id = await _task(db_session, template, 2.0)
    for body in (
        {"task_id": True},
        {"process_template_id": True},
        {"process_template_id": template, "estimated_hours": True},
    ):
        r = await client.post(R, json=body)
        assert r.status_code == 422 and fields(r) == [next(reversed(body))], (body, r.text)
    run = (await client.post(R, json={"task_id": task_id})).json()
    r = await client.post(f"{R}/{run['id']}/stop", json={"actual_hours": False})
    assert r.status_code == 422 and fields(r) == ["actual_hours"], r.text
    assert await _runs(db_session) == 1


async def test_list_filters(client: httpx.AsyncClient, db_session: AsyncSession):
    template = await _template(client)
    task_id = await _task(db_session, template, 1.0)
    a = (await client.post(R, json={"task_id": task_id})).json()
    b = (await client.post(R, json={"process_template_id": template})).json()
    await client.post(f"{R}/{a['id']}/stop", json={"actual_hours": 1})
    done = (await client.get(R, params={"status": "completed"})).json()
    assert [x["id"] for x in done["items"]] == [a["id"]]
    running = (await client.get(R, params={"status": "in_progress"})).json()
    assert [x["id"] for x in running["items"]] == [b["id"]]
    by_task = (await client.get(R, params={"task_id": task_id})).json()
    assert by_task["total"] == 1
    by_template = (await client.get(R, params={"process_template_id": template})).json()
    assert by_template["total"] == 2
    assert (await client.get(R, params={"status": "stopped"})).status_code == 422


async def test_a_filter_a_list_does_not_have_is_a_422_naming_it(client: httpx.AsyncClient):
    """`?client_id=7` listed every client's runs as if filtered (and `?name=` every
    workflow): the ontology's lists refuse it, as tasks and plans do."""
    for path, name in (
        ("/execution-runs", "client_id"),
        ("/workflows", "name"),
        ("/blueprints", "client_id"),
        ("/process-templates", "client_id"),
    ):
        r = await client.get(f"{API}{path}", params={name: "7"})
        assert r.status_code == 422, (path, r.text)
        assert fields(r) == [name], (path, r.text)


async def test_a_subnormal_estimate_cannot_overflow_the_variance(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # 5e-324 h passes ge=0; (actual - est) / est then overflowed in Postgres' generated
    # column and stopping the run answered 500. Hours are kept to six decimals.
    template = await _template(client)
    r = await client.post(R, json={"process_template_id": template, "estimated_hours": 5e-324})
    assert r.status_code == 201 and r.json()["estimated_hours"] == 0.0, r.text
    r = await client.post(f"{R}/{r.json()['id']}/stop", json={"actual_hours": 10_000})
    assert r.status_code == 200 and r.json()["variance_pct"] is None, r.text
    # A task estimated at 5e-324 h (stored before SOP estimates were rounded): the same.
    task_id = await _task(db_session, template, 5e-324)
    r = await client.post(R, json={"task_id": task_id})
    assert r.status_code == 201 and r.json()["estimated_hours"] == 0.0, r.text
    r = await client.post(f"{R}/{r.json()['id']}/stop", json={"actual_hours": 3})
    assert r.status_code == 200, r.text
    # A run started before hours were rounded still stops.
    r = await client.post(R, json={"process_template_id": template, "estimated_hours": 1})
    run_id = r.json()["id"]
    await db_session.execute(
        text("UPDATE execution_runs SET estimated_hours = 5e-324 WHERE id = :id"), {"id": run_id}
    )
    r = await client.post(f"{R}/{run_id}/stop", json={"actual_hours": 2})
    assert r.status_code == 200 and r.json()["estimated_hours"] == 0.0, r.text


async def test_time_logged_on_a_task_estimated_at_a_subnormal_is_stored(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    task_id = await _task(db_session, await _template(client), 5e-324)
    for _ in range(2):  # creates the run, then adds to it (the variance is recomputed)
        r = await client.post(f"{API}/tasks/{task_id}/time", json={"hours": 24})
        assert r.status_code == 200, r.text
    run = await client.get(f"{R}/{r.json()['execution_run_id']}")
    assert run.json()["estimated_hours"] == 0.0 and run.json()["actual_hours"] == 48


async def test_runs_in_another_century_are_refused_and_nothing_written(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """A run started in 1901 or 2199 was stored (and its elapsed hours with it); when
    work was done lies between five years back and a day ahead."""
    template = await _template(client)
    now = datetime.now(UTC)
    for when, reason in (
        ("2199-01-01T09:00:00Z", "1 day in the future"),
        ("1901-01-01T09:00:00Z", "5 years in the past"),
        ((now + timedelta(days=2)).isoformat(), "1 day in the future"),
    ):
        r = await client.post(R, json={"process_template_id": template, "started_at": when})
        assert r.status_code == 422, (when, r.text)
        (error,) = r.json()["errors"]
        assert error["field"] == "started_at" and reason in error["message"], error
    assert await _runs(db_session) == 0
    started = (now - timedelta(days=3)).isoformat()
    run = await client.post(R, json={"process_template_id": template, "started_at": started})
    run_id = run.json()["id"]
    for when in ("2199-01-01T09:00:00Z", (now + timedelta(days=2)).isoformat()):
        r = await client.post(f"{R}/{run_id}/stop", json={"ended_at": when})
        assert r.status_code == 422 and fields(r) == ["ended_at"], r.text
    assert (await client.get(f"{R}/{run_id}")).json()["status"] == "in_progress"
    r = await client.post(f"{R}/{run_id}/stop", json={"ended_at": now.isoformat()})
    assert r.status_code == 200 and r.json()["actual_hours"] == 72.0, r.text


async def test_a_run_longer_than_the_hours_bound_asks_for_actual_hours(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """Started four years ago and stopped now, the elapsed 35,000 h was stored as actual
    hours, more than any caller may send (10,000)."""
    template = await _template(client)
    long_ago = (datetime.now(UTC) - timedelta(days=4 * 365)).isoformat()
    run = await client.post(R, json={"process_template_id": template, "started_at": long_ago})
    r = await client.post(f"{R}/{run.json()['id']}/stop", json={})
    assert r.status_code == 422 and fields(r) == ["actual_hours"], r.text
    assert "give actual_hours" in r.json()["errors"][0]["message"]
    r = await client.post(f"{R}/{run.json()['id']}/stop", json={"actual_hours": 400})
    assert r.status_code == 200 and r.json()["actual_hours"] == 400, r.text


async def test_a_run_never_ends_or_starts_after_now(client: httpx.AsyncClient):
    """A day ahead is allowed for a clock running fast; stored as given, a run ended
    tomorrow (with a day's hours never worked) and one started ahead could not be stopped
    without a body (ended_at before started_at, a field never sent). Capped at now, as a
    task's time record caps its run."""
    template = await _template(client)
    before = datetime.now(UTC)
    started = (before - timedelta(hours=1)).isoformat()
    run = (
        await client.post(R, json={"process_template_id": template, "started_at": started})
    ).json()
    ahead = (before + timedelta(hours=20)).isoformat()
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": ahead})
    assert r.status_code == 200, r.text
    after = datetime.now(UTC)
    assert datetime.fromisoformat(r.json()["ended_at"]) <= after
    assert 1.0 <= r.json()["actual_hours"] < 1.1  # the hour worked, not 21

    ahead = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {"process_template_id": template, "started_at": ahead, "run_identifier": "fast"}
    r = await client.post(R, json=body)
    assert r.status_code == 201, r.text
    assert datetime.fromisoformat(r.json()["started_at"]) <= datetime.now(UTC)
    # Its retry names the same start: the same run, not a 409.
    retry = await client.post(R, json=body)
    assert retry.status_code == 200 and retry.json() == r.json(), retry.text
    other = await client.post(
        R, json={**body, "started_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat()}
    )
    assert other.status_code == 409 and "started_at" in other.json()["detail"], other.text
    r = await client.post(f"{R}/{r.json()['id']}/stop")
    assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] < 0.1


async def test_hours_fit_the_end_given_by_a_clock_running_fast(client: httpx.AsyncClient):
    """The hours are checked against the end the caller gave (its own clock), so capping
    the stored end at now refuses no session a fast clock reports consistently."""
    template = await _template(client)
    now = datetime.now(UTC)
    run = (
        await client.post(
            R,
            json={
                "process_template_id": template,
                "started_at": (now - timedelta(hours=2)).isoformat(),
            },
        )
    ).json()
    end = (now + timedelta(minutes=10)).isoformat()
    r = await client.post(f"{R}/{run['id']}/stop", json={"ended_at": end, "actual_hours": 2.15})
    assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] == 2.15
    assert datetime.fromisoformat(r.json()["ended_at"]) <= datetime.now(UTC)


async def test_a_run_on_a_closed_task_is_a_409_naming_its_status(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """A run started on a done task stayed in progress for good: closing a task stops its
    run, and nothing stops one started after. Refused, with or without a start given, and
    nothing written; reopened, the task is timed again."""
    template = await _template(client)
    done = await _task(db_session, template, 2.0)
    cancelled = await _task(db_session, template, 2.0)
    for tid, status in ((done, "done"), (cancelled, "cancelled")):
        r = await client.patch(f"{API}/tasks/{tid}", json={"status": status})
        assert r.status_code == 200, r.text
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    for tid, status in ((done, "done"), (cancelled, "cancelled")):
        for body in ({"task_id": tid}, {"task_id": tid, "started_at": past}):
            r = await client.post(R, json=body)
            assert r.status_code == 409, (body, r.text)
            assert f"task {tid} is {status}" in r.json()["detail"], r.text
            assert "task_id" in fields(r), r.json()
    assert "/tasks/" in r.json()["detail"] or "reopen" in r.json()["detail"]
    assert await _runs(db_session) == 0
    # Reopened, it is open for timing, and its run is stopped as any other.
    r = await client.patch(f"{API}/tasks/{done}", json={"status": "in_progress"})
    assert r.status_code == 200, r.text
    r = await client.post(R, json={"task_id": done, "started_at": past})
    assert r.status_code == 201, r.text
    r = await client.post(f"{R}/{r.json()['id']}/stop", json={"actual_hours": 1.0})
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text


async def test_the_list_is_newest_first_so_the_timer_just_started_is_on_the_first_page(
    client: httpx.AsyncClient,
):
    """`almanac runs list --limit 3` ("recent execution runs") listed the three oldest, so
    past a page of history the run just started (the one to stop) was not listed."""
    template = await _template(client)
    made = []
    # Back-dated runs recorded after newer ones: the order is by when the work began.
    for day in (5, 2, 9, 1):
        body = {"process_template_id": template, "started_at": f"2026-03-0{day}T09:00:00Z"}
        made.append((day, (await client.post(R, json=body)).json()["id"]))
    newest_first = [run_id for _, run_id in sorted(made, reverse=True)]
    page = (await client.get(R, params={"limit": 3})).json()
    assert [r["id"] for r in page["items"]] == newest_first[:3] and page["total"] == 4
    rest = (await client.get(R, params={"limit": 3, "offset": 3})).json()
    assert [r["id"] for r in rest["items"]] == newest_first[3:]


async def test_a_task_timer_left_running_past_a_day_asks_for_the_hours(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """A timer started on Friday and stopped on Monday recorded 64 h of work on the task
    (its estimate drifted by 1,500%); a time record may hold at most a day's."""
    task_id = await _task(db_session, await _template(client), 4.0)
    started = datetime.now(UTC) - timedelta(hours=64)
    run = await client.post(R, json={"task_id": task_id, "started_at": started.isoformat()})
    assert run.status_code == 201, run.text
    r = await client.post(f"{R}/{run.json()['id']}/stop", json={})
    assert r.status_code == 422 and fields(r) == ["actual_hours"], r.text
    message = r.json()["errors"][0]["message"]
    assert "timed for 64 h" in message and "give actual_hours" in message, message
    assert (await client.get(f"{R}/{run.json()['id']}")).json()["status"] == "in_progress"
    r = await client.post(f"{R}/{run.json()['id']}/stop", json={"actual_hours": 6})
    assert r.status_code == 200 and r.json()["actual_hours"] == 6, r.text
    # Within a day, the time on the clock is the hours worked, as before.
    started = datetime.now(UTC) - timedelta(hours=23)
    other = await _task(db_session, await _template(client), 4.0)
    run = await client.post(R, json={"task_id": other, "started_at": started.isoformat()})
    assert run.status_code == 201, run.text
    r = await client.post(f"{R}/{run.json()['id']}/stop", json={})
    assert r.status_code == 200 and 22.99 < r.json()["actual_hours"] <= 23.01, r.text
