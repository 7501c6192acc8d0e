"""/api/v1/planner/tasks: list, read, edit, record time, done frees blocks, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import ExecutionRun, Task
from almanac.scheduler.repository import SchedulerRepository
from tests.scheduler.conftest import almanac_entries, at, make_plan, next_monday

URL = "/api/v1/planner/tasks"
TASKS = [
    {"key": "research", "estimate_hours": 2.0, "priority": 3},
    {"key": "draft", "estimate_hours": 3.0, "depends_on": ["research"]},
]


async def ids(session: AsyncSession, plan_id: int) -> dict[str, int]:
    rows = await session.scalars(select(Task).where(Task.plan_id == plan_id))
    return {t.plan_task_key or "": t.id for t in rows}


async def test_list_filters_and_paging(sched_client: httpx.AsyncClient, db_session: AsyncSession):
    monday = next_monday()
    a = await make_plan(db_session, TASKS, title="A")
    b = await make_plan(
        db_session, [{"key": "x", "deadline": at(monday, 12), "client_id": 7}], title="B"
    )
    r = await sched_client.get(URL, params={"plan_id": a.id})
    assert r.status_code == 200, r.text
    assert {t["key"] for t in r.json()["items"]} == {"research", "draft"}
    r = await sched_client.get(URL, params={"client_id": 7})
    assert [t["plan_id"] for t in r.json()["items"]] == [b.id]
    due = (at(monday, 13)).isoformat()
    r = await sched_client.get(URL, params={"due_before": due})
    assert [t["key"] for t in r.json()["items"]] == ["x"]
    r = await sched_client.get(URL, params={"on": monday.isoformat()})
    assert [t["key"] for t in r.json()["items"]] == ["x"]
    r = await sched_client.get(URL, params={"limit": 1, "offset": 1})
    assert r.json()["total"] == 3 and len(r.json()["items"]) == 1
    r = await sched_client.get(URL, params={"status": "bogus"})
    assert r.status_code == 422
    r = await sched_client.get(URL, params={"due_before": "2030-01-01T10:00:00"})
    assert r.status_code == 422


async def test_patch_validates_and_writes_nothing_on_bad_input(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    plan = await make_plan(
        db_session,
        [
            {"key": "research", "deadline": at(monday + timedelta(2), 17)},
            {"key": "draft", "depends_on": ["research"]},
        ],
    )
    tid = (await ids(db_session, plan.id))["draft"]
    r = await sched_client.patch(
        f"{URL}/{tid}", json={"title": "Draft v2", "estimate_hours": 4, "priority": 4}
    )
    assert r.status_code == 200, r.text
    task = r.json()["task"]
    assert (task["title"], task["estimate_hours"], task["priority"]) == ("Draft v2", 4, 4)
    # Bad input last: a failed request rolls back the test's transaction too.
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "finished"})
    assert r.status_code == 422 and "status" in r.json()["errors"][0]["field"]
    r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": -1})
    assert r.status_code == 422 and "estimate_hours" in r.json()["errors"][0]["field"]
    early = at(monday, 12).isoformat()
    r = await sched_client.patch(f"{URL}/{tid}", json={"deadline": early, "title": "New"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "deadline"


async def test_a_deadline_after_a_dependent_tasks_deadline_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    # Moving the first task's deadline later would leave its successor's before it.
    monday = next_monday()
    plan = await make_plan(
        db_session,
        [
            {"key": "research", "deadline": at(monday + timedelta(2), 17)},
            {"key": "draft", "depends_on": ["research"], "deadline": at(monday + timedelta(3), 17)},
        ],
    )
    tid = (await ids(db_session, plan.id))["research"]
    fine = at(monday + timedelta(3), 12).isoformat()
    r = await sched_client.patch(f"{URL}/{tid}", json={"deadline": fine})
    assert r.status_code == 200, r.text
    late = at(monday + timedelta(4), 12).isoformat()
    r = await sched_client.patch(f"{URL}/{tid}", json={"deadline": late})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "deadline"
    assert "'draft'" in r.json()["errors"][0]["message"]


async def test_null_clears_a_deadline_and_is_refused_elsewhere(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    # null was read as "left out": a 200 that kept the deadline the caller cleared.
    plan = await make_plan(db_session, [{"key": "x", "deadline": at(next_monday(), 12)}])
    tid = (await ids(db_session, plan.id))["x"]
    r = await sched_client.patch(f"{URL}/{tid}", json={"deadline": None})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["deadline"] is None
    assert (await sched_client.get(f"{URL}/{tid}")).json()["deadline"] is None
    r = await sched_client.patch(f"{URL}/{tid}", json={"priority": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "priority"


async def test_the_documented_patch_takes_null_only_for_the_deadline(
    sched_client: httpx.AsyncClient,
):
    # The schema offered null for every field while the API refuses it for all but the
    # deadline: a client built from the OpenAPI document sent what the server 422s.
    doc = (await sched_client.get("/openapi.json")).json()
    body = doc["paths"][URL + "/{task_id}"]["patch"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props = doc["components"]["schemas"][ref]["properties"]
    takes_null = {
        name
        for name, prop in props.items()
        if prop.get("type") == "null" or any(a.get("type") == "null" for a in prop.get("anyOf", []))
    }
    assert takes_null == {"deadline"}, props
    assert all("default" not in props[name] for name in set(props) - {"deadline"}), props


async def test_time_creates_then_extends_the_run_and_done_frees_blocks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    plan_id = plan.id
    by_key = await ids(db_session, plan_id)
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    draft = [b for b in r.json()["blocks"] if b["task_key"] == "draft"]
    assert draft
    tid = by_key["draft"]
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1.0, "idempotency_key": "k1"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["actual_hours"] == 1.0 and first["task"]["status"] == "in_progress"
    again = await sched_client.post(
        f"{URL}/{tid}/time", json={"hours": 1.0, "idempotency_key": "k1"}
    )
    assert again.json()["duplicate"] is True and again.json()["actual_hours"] == 1.0
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.5})
    assert r.json()["execution_run_id"] == first["execution_run_id"]
    assert r.json()["actual_hours"] == 1.5 and r.json()["task"]["remaining_hours"] == 1.5
    # The hours recorded shrank the future blocks to the 1.5 h left (see test_block_fitting).
    freed = {
        c["almanac_id"] for c in [*first["blocks"], *r.json()["blocks"]] if c["change"] == "freed"
    }
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "done"})
    assert r.status_code == 200, r.text
    assert r.json()["released_blocks"] == len(draft) - len(freed) > 0
    assert r.json()["task"]["remaining_hours"] == 0  # 1.5 h of estimate unlogged, none planned
    left = {e.almanac_id for e in await almanac_entries(db_session)}
    assert not any(b["almanac_id"] in left for b in draft)
    run = (await db_session.scalars(select(ExecutionRun).where(ExecutionRun.task_id == tid))).one()
    assert run.status == "completed" and run.actual_hours == 1.5
    r = await sched_client.get(URL, params={"plan_id": plan_id, "status": "done"})
    assert [t["id"] for t in r.json()["items"]] == [tid]
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0})
    assert r.status_code == 422 and "hours" in r.json()["errors"][0]["field"]
    r = await sched_client.patch(f"{URL}/999999", json={"title": "x"})
    assert r.status_code == 404


async def test_an_estimate_or_time_below_36_seconds_is_refused_naming_the_field(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """5e-324 h was stored as a task's estimate and recorded as time worked (a run with
    0 h); anything below 0.01 h is now a 422 naming the field."""
    plan = await make_plan(db_session, TASKS)
    tid = (await ids(db_session, plan.id))["draft"]
    # 0 still means "no work left", -0.0 reads as 0, and 0.01 h is the least work.
    for value, stored in ((0, 0.0), (-0.0, 0.0), (0.01, 0.01)):
        r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": value})
        assert r.status_code == 200, r.text
        assert str(r.json()["task"]["estimate_hours"]) == str(stored)
    # Bad input last: a failed request rolls back the test's transaction too.
    for tiny in (5e-324, 1e-9, 0.005):
        r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": tiny})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "estimate_hours"
        # 0 is taken here: the message says so ("at least 0.01" read wrong beside it).
        assert "must be 0 or at least 0.01 hours" in r.json()["errors"][0]["message"]
        r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": tiny})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hours"
        # Time worked is never 0: at least 0.01 h, with no "0 or".
        assert r.json()["errors"][0]["message"].startswith("must be at least 0.01 hours")
    r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": -3})
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == "must not be negative"


async def test_time_recorded_in_another_century_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """ended_at in 2199 or 1901 was recorded as work done (a run starting then); when
    work was done lies between five years back and a day ahead (the body is refused
    before the handler runs, so nothing is written)."""
    plan = await make_plan(db_session, TASKS)
    tid = (await ids(db_session, plan.id))["draft"]
    now = datetime.now(UTC)
    # Work done last week, or finished a few hours ahead by a clock that runs fast, counts.
    for when in (now - timedelta(days=7), now + timedelta(hours=3)):
        r = await sched_client.post(
            f"{URL}/{tid}/time", json={"hours": 0.5, "ended_at": when.isoformat()}
        )
        assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] == 1.0
    # Bad input last: a failed request rolls back the test's transaction too.
    for when, reason in (
        ("2199-01-01T09:00:00Z", "1 day in the future"),
        ("1901-01-01T09:00:00Z", "5 years in the past"),
        ((now + timedelta(days=2)).isoformat(), "1 day in the future"),
        ((now - timedelta(days=5 * 365 + 1)).isoformat(), "5 years in the past"),
    ):
        r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": when})
        assert r.status_code == 422, (when, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        (error,) = r.json()["errors"]
        assert error["field"] == "ended_at" and reason in error["message"], error


async def test_an_unknown_filter_is_refused_naming_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """`?due=…` was ignored: a 200 listing every task of every plan, as if it had filtered.
    A filter the list does not know is a 422 now. `plan` and `client`, the issue's words,
    filter like `plan_id` and `client_id` (they were ignored too)."""
    a = await make_plan(db_session, TASKS, title="A")
    await make_plan(db_session, [{"key": "other", "client_id": 9}], title="B")
    r = await sched_client.get(URL, params={"plan_id": a.id, "limit": 5, "offset": 0})
    assert r.status_code == 200 and r.json()["total"] == 2
    r = await sched_client.get(URL, params={"plan": a.id})
    assert r.status_code == 200 and {t["plan_id"] for t in r.json()["items"]} == {a.id}
    r = await sched_client.get(URL, params={"client": 9})
    assert r.status_code == 200 and [t["key"] for t in r.json()["items"]] == ["other"]
    # Bad input last: a failed request rolls back the test's transaction too.
    # A bad value under the short word names that word: it named `client_id`, never sent.
    for params in (
        {"due": 1},
        {"dueBefore": 1},
        {"plann": 1},
        {"plan": a.id, "plan_id": a.id},
        {"client": "abc"},
        {"plan": 0},
    ):
        r = await sched_client.get(URL, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        (error,) = r.json()["errors"]
        assert error["field"] == next(iter(params)), error


async def test_a_blank_title_is_refused(sched_client: httpx.AsyncClient, db_session: AsyncSession):
    """A title of spaces was stored (200): a task with no name in lists and the calendar."""
    plan = await make_plan(db_session, TASKS)
    tid = (await ids(db_session, plan.id))["draft"]
    r = await sched_client.patch(f"{URL}/{tid}", json={"title": "  Draft v2 "})
    assert r.status_code == 200 and r.json()["task"]["title"] == "  Draft v2 "
    # Bad input last: a failed request rolls back the test's transaction too.
    for blank in (" ", "\t\n", "   "):
        r = await sched_client.patch(f"{URL}/{tid}", json={"title": blank, "priority": 4})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "title"


async def test_on_a_day_lists_a_task_whose_later_blocks_fall_that_day(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """`on` (the CLI's `--today`) matched the task's first block only: a 12-hour task begun
    on Monday was missing from Tuesday's list though Tuesday held its blocks."""
    plan = await make_plan(db_session, [{"key": "long", "estimate_hours": 12.0}])
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    days = sorted({datetime.fromisoformat(b["start"]).date() for b in r.json()["blocks"]})
    assert len(days) >= 2, r.json()["blocks"]
    tid = (await ids(db_session, plan.id))["long"]
    for day in days:
        r = await sched_client.get(URL, params={"on": day.isoformat()})
        assert r.status_code == 200, r.text
        assert [t["id"] for t in r.json()["items"]] == [tid], day
    after = days[-1] + timedelta(days=1)
    r = await sched_client.get(URL, params={"on": after.isoformat()})
    assert r.json()["items"] == [] and r.json()["total"] == 0


async def test_a_deadline_before_the_tasks_earliest_start_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """It was stored (200), and from then on every schedule of every plan was a 422 naming
    this task of another plan, as the solver sees the whole calendar."""
    monday = next_monday()
    a = await make_plan(db_session, [{"key": "odd", "earliest_start": at(monday, 14)}], title="A")
    b_id = (await make_plan(db_session, [{"key": "fine"}], title="B")).id
    tid = (await ids(db_session, a.id))["odd"]
    await db_session.commit()  # a savepoint: the failed request must roll back only its own
    for when in (at(monday, 12), at(monday, 14)):
        r = await sched_client.patch(
            f"{URL}/{tid}", json={"deadline": when.isoformat(), "title": "Renamed"}
        )
        assert r.status_code == 422, r.text
        (error,) = r.json()["errors"]
        assert error["field"] == "deadline" and "earliest start" in error["message"], error
    task = (await sched_client.get(f"{URL}/{tid}")).json()
    assert task["deadline"] is None and task["title"] == "Odd"  # nothing written
    body = {"plan_id": b_id, "start_date": monday.isoformat()}
    r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{tid}", json={"deadline": at(monday, 17).isoformat()})
    assert r.status_code == 200, r.text


async def test_a_run_never_ends_after_now_when_its_last_hours_were_recorded_ahead(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A time record may end up to a day ahead (a clock running fast); closing the task
    then ended its run in the future, and time recorded on a done task started and ended
    its run in the future."""
    plan = await make_plan(db_session, TASKS)
    by_key = await ids(db_session, plan.id)
    ahead = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    # Time recorded ahead, then the task closed.
    r = await sched_client.post(
        f"{URL}/{by_key['research']}/time", json={"hours": 0.5, "ended_at": ahead}
    )
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{by_key['research']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    # The task closed first, then time recorded ahead (a completed run at once).
    r = await sched_client.patch(f"{URL}/{by_key['draft']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    r = await sched_client.post(
        f"{URL}/{by_key['draft']}/time", json={"hours": 0.5, "ended_at": ahead}
    )
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    runs = (
        await db_session.scalars(
            select(ExecutionRun)
            .where(ExecutionRun.task_id.in_(by_key.values()))
            .execution_options(populate_existing=True)
        )
    ).all()
    assert len(runs) == 2
    for run in runs:
        assert run.status == "completed"
        assert run.ended_at is not None and run.started_at is not None
        assert run.ended_at <= now, (run.task_id, run.ended_at, now)
        assert run.started_at <= run.ended_at, (run.task_id, run.started_at, run.ended_at)


async def test_time_recorded_past_what_a_run_may_hold_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Each record is at most 24 h, but records added up without bound: a task's run took
    more hours than an execution run may hold (10,000, what the runs endpoint accepts)."""
    plan = await make_plan(db_session, TASKS)
    tid = (await ids(db_session, plan.id))["draft"]
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1.0})
    assert r.status_code == 200, r.text
    run = await db_session.get(ExecutionRun, r.json()["execution_run_id"])
    assert run is not None
    run.actual_hours = 9_990.0  # 416 days of 24 h records, written at once
    await db_session.flush()
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 10.0})
    assert r.status_code == 200 and r.json()["actual_hours"] == 10_000, r.text
    # Bad input last: a failed request rolls back the test's transaction too.
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.5})
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "hours" and "10000" in error["message"], error


async def test_true_and_false_are_no_hours_or_priority(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """`{"hours": true}` recorded 1 h (pydantic's lax mode reads true as 1), and
    `{"priority": true}` set priority 1; a number written as a string still counts, as in
    every other schema."""
    plan = await make_plan(db_session, TASKS)
    tid = (await ids(db_session, plan.id))["draft"]
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": "1.5"})
    assert r.status_code == 200 and r.json()["actual_hours"] == 1.5, r.text
    # Bad input last: a failed request rolls back the test's transaction too.
    for path, body in (
        (f"{URL}/{tid}/time", {"hours": True}),
        (f"{URL}/{tid}", {"estimate_hours": True}),
        (f"{URL}/{tid}", {"priority": True}),
        (f"{URL}/{tid}", {"estimate_hours": False}),
    ):
        send = sched_client.post if path.endswith("/time") else sched_client.patch
        r = await send(path, json=body)
        assert r.status_code == 422, (body, r.text)
        (error,) = r.json()["errors"]
        assert error["field"] == next(iter(body)) and "true or false" in error["message"], error


async def test_on_a_day_finds_the_days_blocks_in_sql_not_in_every_plans_schedule(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    """`on` read every live plan's newest schedule (its whole horizon of blocks) into
    Python to keep one day's; now the database returns only that day's task keys."""
    monday = next_monday()
    kept = await make_plan(db_session, [{"key": "work", "estimate_hours": 2.0}], title="Kept")
    other = await make_plan(db_session, [{"key": "work", "estimate_hours": 2.0}], title="Other")
    starts: dict[int, set[date]] = {}
    for plan in (kept, other):
        body = {"plan_id": plan.id, "start_date": monday.isoformat(), "dry_run": False}
        r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200, r.text
        starts[plan.id] = {datetime.fromisoformat(b["start"]).date() for b in r.json()["blocks"]}

    def whole_schedules(*args: object, **kwargs: object) -> object:
        raise AssertionError("every plan's schedule was read to list one day's tasks")

    monkeypatch.setattr(SchedulerRepository, "applied_blocks", whole_schedules)
    task_of = {p.id: (await ids(db_session, p.id))["work"] for p in (kept, other)}
    for day in sorted(starts[kept.id] | starts[other.id]):
        r = await sched_client.get(URL, params={"on": day.isoformat()})
        assert r.status_code == 200, r.text
        listed = {t["id"] for t in r.json()["items"]}
        assert listed == {task_of[p] for p, days in starts.items() if day in days}, day
        r = await sched_client.get(URL, params={"on": day.isoformat(), "plan_id": kept.id})
        listed = {t["id"] for t in r.json()["items"]}
        assert listed == ({task_of[kept.id]} if day in starts[kept.id] else set()), day


async def test_most_urgent_first_is_the_order_the_work_is_done_in(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Tasks of one plan share its deadline, so the list went by priority: a plan's last
    step ("present", priority 4) came first, above the kick-off it waits for, and a task
    already done sat among the open ones. Open tasks come first, then by deadline, then
    by when the schedule starts them."""
    due = at(next_monday() + timedelta(days=4), 17)
    spec = [
        {"key": "kickoff", "priority": 2, "deadline": due},
        {"key": "analysis", "priority": 3, "deadline": due, "depends_on": ["kickoff"]},
        {"key": "present", "priority": 4, "deadline": due, "depends_on": ["analysis"]},
        {"key": "notes", "priority": 5, "deadline": due},
    ]
    plan = await make_plan(db_session, spec)
    by_key = await ids(db_session, plan.id)
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    starts = {
        b["task_key"]: b["start"] for b in sorted(r.json()["blocks"], key=lambda b: b["start"])
    }
    r = await sched_client.patch(f"{URL}/{by_key['notes']}", json={"status": "done"})
    assert r.status_code == 200, r.text

    r = await sched_client.get(URL, params={"plan_id": plan.id})
    listed = [t["key"] for t in r.json()["items"]]
    open_by_start = sorted((k for k in starts if k != "notes"), key=lambda k: starts[k])
    assert open_by_start == ["kickoff", "analysis", "present"]  # dependencies hold
    assert listed == [*open_by_start, "notes"], (listed, starts)
