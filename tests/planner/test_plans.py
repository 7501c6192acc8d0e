"""Plans after creation: edits with history, approval, and the status machine."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan, ProcessTemplate, Task, Workflow
from almanac.ontology.sop import SOP, SOPProblem, check_sop, plain_problem
from tests.conftest import ok

PLAN = "/api/v1/planner/plan"


async def new_plan(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    r = await client.post(PLAN, json={"intent": "onboard a new client", **extra})
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    return plan


async def test_edit_keeps_a_version_history(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    sop = plan["sop"]
    sop["steps"][0]["tasks"][0]["estimate_hours"] = 2.5
    r = await client.put(
        f"/api/v1/planner/plans/{plan['id']}",
        json={"sop": sop, "note": "contract takes longer", "version": 1},
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["version"] == 2
    assert edited["total_hours"] == plan["total_hours"] + 1.5
    versions = (await client.get(f"/api/v1/planner/plans/{plan['id']}/versions")).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["note"] == "contract takes longer"
    assert versions[0]["sop"]["steps"][0]["tasks"][0]["estimate_hours"] == 1.0

    # A stale version number is refused instead of overwriting the newer edit.
    r = await client.put(
        f"/api/v1/planner/plans/{plan['id']}", json={"plan_title": "x", "version": 1}
    )
    assert r.status_code == 409
    assert [e["field"] for e in r.json()["errors"]] == ["version"]


async def test_an_edit_that_changes_nothing_is_not_a_new_version(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    url = f"/api/v1/planner/plans/{plan['id']}"
    same = [
        {"sop": plan["sop"], "version": 1},
        {"sop": plan["sop"], "plan_title": plan["plan_title"], "note": "retried"},
        {"plan_title": plan["plan_title"]},
    ]
    for body in same:
        r = await client.put(url, json=body)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1, body
    assert (await client.get(f"{url}/versions")).json() == []
    # A real change still is one, and its retry is not another.
    sop = copy.deepcopy(plan["sop"])
    sop["steps"][0]["tasks"][0]["estimate_hours"] = 2.5
    for _ in range(2):
        r = await client.put(url, json={"sop": sop})
        assert r.json()["version"] == 2, r.text
    assert [v["version"] for v in (await client.get(f"{url}/versions")).json()] == [1]


async def test_an_inconsistent_edit_is_refused(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    sop = copy.deepcopy(plan["sop"])
    sop["steps"][0]["tasks"][0]["depends_on"] = ["audit"]  # contract -> audit -> ... -> contract
    r = await client.put(f"/api/v1/planner/plans/{plan['id']}", json={"sop": sop})
    assert r.status_code == 422
    assert "dependency cycle" in r.json()["detail"]
    after = (await client.get(f"/api/v1/planner/plans/{plan['id']}")).json()
    assert after["version"] == 1 and after["sop"] == plan["sop"]


async def test_approve_creates_the_process_template_and_tasks(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    plan = await new_plan(client)
    r = await client.post(f"/api/v1/planner/plans/{plan['id']}/approve")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["plan"]["status"] == "approved"
    template = await db_session.get(ProcessTemplate, out["process_template_id"])
    assert template is not None and template.workflow_id == library["onboarding"].id
    assert [c["id"] for c in template.checklist] == ["contract", "kickoff", "accounts", "audit"]
    tasks = (await db_session.scalars(select(Task).where(Task.plan_id == plan["id"]))).all()
    assert sorted(t.id for t in tasks) == sorted(out["task_ids"])
    by_key = {t.plan_task_key: t for t in tasks}
    assert by_key["kickoff"].depends_on == ["contract"]
    assert by_key["audit"].estimate_hours == 4.0
    assert all(t.process_template_id == template.id for t in tasks)


@pytest.mark.parametrize(
    ("moves", "last_status"),
    [
        (["active"], 409),  # draft cannot skip to active
        (["approved", "approved"], 409),  # approving twice
        (["cancelled", "approved"], 409),  # cancelled is final
        (["approved", "completed"], 409),
        (["approved", "cancelled"], 200),
    ],
)
async def test_status_moves_only_along_the_machine(
    client: httpx.AsyncClient,
    library: dict[str, Workflow],
    moves: list[str],
    last_status: int,
) -> None:
    plan = await new_plan(client)
    codes = []
    for move in moves:
        r = await client.post(f"/api/v1/planner/plans/{plan['id']}/status", json={"status": move})
        codes.append(r.status_code)
    assert codes[:-1] == [200] * (len(moves) - 1)
    assert codes[-1] == last_status
    if last_status == 409:  # the problem names the field, as every other 4xx does
        assert [e["field"] for e in r.json()["errors"]] == ["status"], r.text


async def test_only_drafts_can_be_edited(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    await client.post(f"/api/v1/planner/plans/{plan['id']}/approve")
    r = await client.put(f"/api/v1/planner/plans/{plan['id']}", json={"plan_title": "new"})
    assert r.status_code == 409
    assert "only draft plans" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["plan_id"]
    # Approving again: the approve call sends no status, so the plan's id is what clashes.
    r = await client.post(f"/api/v1/planner/plans/{plan['id']}/approve")
    assert r.status_code == 409 and "already approved" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["plan_id"]


async def test_list_filters_and_missing_plan(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    a = await new_plan(client, client_id=7)
    b = await new_plan(client, client_id=8)
    await client.post(f"/api/v1/planner/plans/{b['id']}/approve")
    r = await client.get("/api/v1/planner/plans", params={"client_id": 7})
    assert [p["id"] for p in r.json()["items"]] == [a["id"]]
    r = await client.get("/api/v1/planner/plans", params={"status": "approved"})
    assert [p["id"] for p in r.json()["items"]] == [b["id"]]
    assert (await client.get("/api/v1/planner/plans", params={"status": "nope"})).status_code == 422
    assert (await client.get("/api/v1/planner/plans/999999999")).status_code == 404
    assert (await client.get("/api/v1/planner/plans/0")).status_code == 422


@pytest.mark.parametrize("misspelt", ["client", "clientid", "state"])
async def test_a_misspelt_filter_is_a_422_not_every_clients_plans(
    client: httpx.AsyncClient, library: dict[str, Workflow], misspelt: str
) -> None:
    await new_plan(client, client_id=7)
    await new_plan(client, client_id=8)
    r = await client.get("/api/v1/planner/plans", params={misspelt: "8"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == misspelt


async def test_a_stored_sop_that_no_longer_reads_never_fails_the_list(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    """A plan row whose SOP has `tasks` instead of `steps` made GET /plans a 422 for every
    caller. It is listed with `sop` null and `sop_error`; approving it is a 409 naming
    `sop`; a PUT with a valid SOP repairs it."""
    from almanac.models import Plan

    good = await new_plan(client)
    bad = Plan(
        plan_title="Old shape",
        intent="old",
        sop={"title": "Old shape", "tasks": [{"id": "a", "title": "A"}]},
        status="draft",
        metadata_={"estimates": "not a list", "notes": ["kept"]},
    )
    db_session.add(bad)
    await db_session.flush()
    r = await client.get("/api/v1/planner/plans")
    assert r.status_code == 200, r.text
    listed = {p["id"]: p for p in r.json()["items"]}
    assert listed[good["id"]]["sop"] == good["sop"] and listed[good["id"]]["sop_error"] is None
    broken = listed[bad.id]
    assert broken["sop"] is None and broken["total_hours"] == 0
    assert "steps" in broken["sop_error"] and "PUT" in broken["sop_error"]
    assert broken["notes"] == ["kept"] and broken["estimates"] == []
    r = await client.get(f"/api/v1/planner/plans/{bad.id}")
    assert r.status_code == 200 and r.json()["sop"] is None
    r = await client.put(
        f"/api/v1/planner/plans/{bad.id}", json={"sop": good["sop"], "version": bad.version}
    )
    assert r.status_code == 200, r.text
    assert r.json()["sop"] == good["sop"] and r.json()["sop_error"] is None
    # Refusals last: a failed request rolls back the test's transaction.
    db_session.add(worse := Plan(plan_title="X", intent="x", sop={"tasks": []}, status="draft"))
    await db_session.flush()
    r = await client.post(f"/api/v1/planner/plans/{worse.id}/approve")
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "sop"


async def test_an_edited_estimate_is_explained_as_set_by_hand(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    """After a PUT changed a task's hours, the plan's `estimates[]` still explained the old
    figure (the library's 1 h, its interval around 1 h) beside the new 2.5 h."""
    plan = await new_plan(client)
    before = {e["task_id"]: e for e in plan["estimates"]}
    sop = copy.deepcopy(plan["sop"])
    sop["steps"][0]["tasks"][0]["estimate_hours"] = 2.5  # contract, 1 h in the library
    r = await client.put(f"/api/v1/planner/plans/{plan['id']}", json={"sop": sop})
    assert r.status_code == 200, r.text
    after = {e["task_id"]: e for e in r.json()["estimates"]}
    contract = after["contract"]
    assert contract["hours"] == 2.5 and contract["basis"] == "hand", contract
    assert "set by hand" in contract["note"] and "1 h" in contract["note"], contract
    assert contract["low_hours"] <= 2.5 <= contract["high_hours"], contract
    assert contract["ratio"] == 2.5, contract  # against the library's 1 h, still its baseline
    assert contract["library_hours"] == before["contract"]["library_hours"] == 1.0
    assert {k: v for k, v in after.items() if k != "contract"} == {
        k: v for k, v in before.items() if k != "contract"
    }
    # A task removed takes its explanation along; a new one is set by hand too.
    extra = {**sop["steps"][1]["tasks"][0], "id": "extra", "estimate_hours": 0.5}
    sop["steps"][1]["tasks"] = [sop["steps"][1]["tasks"][0], extra]  # no audit any more
    r = await client.put(f"/api/v1/planner/plans/{plan['id']}", json={"sop": sop})
    assert r.status_code == 200, r.text
    after = {e["task_id"]: e for e in r.json()["estimates"]}
    assert set(after) == {"contract", "kickoff", "accounts", "extra"}, after
    assert after["extra"]["basis"] == "hand" and after["extra"]["library_hours"] is None
    assert after["contract"]["hours"] == 2.5 and "version 2" in after["contract"]["note"]
    # Runs of the task are still measured against the library and counted for its workflow.
    r = await client.post(f"/api/v1/planner/plans/{plan['id']}/approve")
    assert r.status_code == 200, r.text
    task = await db_session.scalar(
        select(Task).where(Task.plan_id == plan["id"], Task.plan_task_key == "contract")
    )
    assert task is not None and task.estimate_hours == 2.5
    assert task.metadata_["library_hours"] == 1.0
    assert task.metadata_["workflow_id"] == library["onboarding"].id


def test_an_edited_tasks_calibration_goes_with_its_old_figure() -> None:
    """The calibration record ("calibrated from 1 h to 1.4 h") explained the old figure
    too: the CLI showed "(was 1 h)" beside the hand-set one."""
    from almanac.ontology.sop import stored_sop
    from almanac.planner.estimates import explained_after_edit

    def est(key: str, hours: float) -> dict[str, Any]:
        return {
            "task_id": key,
            "library_hours": 1.0,
            "hours": hours,
            "low_hours": hours / 2,
            "high_hours": hours * 2,
            "ratio": hours,
            "basis": "workflow",
            "note": "from history",
        }

    def cal(key: str) -> dict[str, Any]:
        return {"task_id": key, "from_hours": 1.0, "to_hours": 1.4, "ratio": 1.4}

    sop = stored_sop(
        {
            "title": "P",
            "steps": [
                {
                    "id": "s",
                    "title": "S",
                    "tasks": [
                        {"id": "a", "title": "A", "estimate_hours": 3.0},
                        {"id": "b", "title": "B", "estimate_hours": 1.4},
                    ],
                }
            ],
        }
    )
    meta = {"estimates": [est("a", 1.4), est("b", 1.4)], "calibration": [cal("a"), cal("b")]}
    out = explained_after_edit(meta, sop, 3)
    assert out["calibration"] == [cal("b")]
    a, b = out["estimates"]
    assert b == est("b", 1.4)
    assert a["hours"] == 3.0 and a["basis"] == "hand" and a["ratio"] == 3.0
    assert (a["low_hours"], a["high_hours"]) == (1.5, 6.0)  # the spread kept around 3 h
    assert a["note"] == "set by hand in version 3 (was 1.4 h: from history)"
    assert explained_after_edit({}, sop, 3) == {}  # nothing explained: nothing to keep true


async def test_an_edit_with_true_for_a_number_is_refused(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    """JSON true was read as 1: a PUT with {"estimate_hours": true} set a task to 1 h and
    explained it as "set by hand", {"priority": true} set priority 1 (types.NOT_BOOL
    refused it for a task's own PATCH, not for the plan's SOP)."""
    plan = await new_plan(client)
    for name in ("estimate_hours", "priority"):
        sop = copy.deepcopy(plan["sop"])
        sop["steps"][1]["tasks"][1][name] = True  # audit: 4 h, priority 2
        r = await client.put(f"/api/v1/planner/plans/{plan['id']}", json={"sop": sop})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"].endswith(name), r.text
    r = await client.get(f"/api/v1/planner/plans/{plan['id']}")
    assert r.json()["version"] == plan["version"] and r.json()["sop"] == plan["sop"], r.text


async def test_a_title_of_only_spaces_is_a_422_naming_it(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    url = f"/api/v1/planner/plans/{plan['id']}"
    r = await client.put(url, json={"plan_title": "   "})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "plan_title"
    sop = copy.deepcopy(plan["sop"])
    sop["steps"][1]["tasks"][0]["title"] = " \t "
    r = await client.put(url, json={"sop": sop})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["sop.steps[1].tasks[0].title"]
    assert (await client.get(url)).json()["version"] == 1  # nothing written
    # A value the schema refuses is named alike: it read "sop.steps.1.tasks.0.estimate_hours".
    sop["steps"][1]["tasks"][0]["title"] = "Audit"
    sop["steps"][1]["tasks"][0]["estimate_hours"] = -1
    r = await client.put(url, json={"sop": sop})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["sop.steps[1].tasks[0].estimate_hours"]
    # Only invisible marks show nothing either: a task, an event, an intent of them.
    approved = await ok(await client.post(f"{url}/approve"))
    task = approved["task_ids"][0]
    r = await client.patch(f"/api/v1/planner/tasks/{task}", json={"title": "\u202e\u200f"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title", r.text
    event = {
        "title": "\u200b\u2060",
        "start": "2030-01-07T09:00:00+00:00",
        "end": "2030-01-07T10:00:00+00:00",
    }
    r = await client.post("/api/v1/calendar/events", json=event)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title", r.text
    r = await client.post("/api/v1/planner/plan", json={"intent": "\u200b\u200b\u200b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "intent", r.text
    step = {"id": "s", "title": "  ", "tasks": [{"id": "a", "title": "A", "estimate_hours": 1}]}
    r = await client.post("/api/v1/planner/workflows", json={"name": "W", "steps": [step]})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["steps[0].title"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("deadline", "1900-01-02T00:00:00Z", "is already past"),
        ("deadline", "2020-01-01T00:00:00+14:00", "is already past"),
        ("deadline", "2199-01-01T00:00:00Z", "is after the plan's deadline"),
        ("earliest_start", "2199-01-01T00:00:00Z", "is not before the plan's deadline"),
    ],
    ids=["1900", "2020", "after-the-plan", "starts-after-the-plan"],
)
async def test_a_task_date_outside_the_plans_time_is_a_422_naming_it(
    client: httpx.AsyncClient,
    library: dict[str, Workflow],
    field: str,
    value: str,
    message: str,
) -> None:
    deadline = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    plan = await new_plan(client, deadline=deadline)
    sop = copy.deepcopy(plan["sop"])
    sop["steps"][0]["tasks"][1][field] = value
    r = await client.put(f"/api/v1/planner/plans/{plan['id']}", json={"sop": sop})
    assert r.status_code == 422, r.text
    assert {"field": f"sop.steps[0].tasks[1].{field}", "message": message} in r.json()["errors"]
    # The text names the task and the field as a person does, not the body's path.
    task = sop["steps"][0]["tasks"][1]
    named = f'task "{task["title"]}" ({task["id"]}): {field.replace("_", " ")} {message}'
    assert named in r.json()["detail"] and "steps[" not in r.json()["detail"], r.json()["detail"]
    assert (await client.get(f"/api/v1/planner/plans/{plan['id']}")).json()["version"] == 1


async def test_an_old_draft_edits_but_a_deadline_it_sets_in_the_past_is_a_422(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    # Edits judged task dates by the plan's creation: on a draft made 30 days ago, a task
    # given yesterday as its deadline today was stored (and scheduled late at once).
    now = datetime.now(UTC)
    plan = await new_plan(client, deadline=(now + timedelta(days=30)).isoformat())
    sop = copy.deepcopy(plan["sop"])
    kept = (now - timedelta(days=10)).isoformat()  # set back when it was still ahead
    sop["steps"][0]["tasks"][0]["deadline"] = kept
    row = await db_session.get(Plan, plan["id"])
    assert row is not None
    row.created_at, row.sop = now - timedelta(days=30), sop
    await db_session.flush()
    url = f"/api/v1/planner/plans/{plan['id']}"
    # The old task's own past deadline, unchanged, does not stop an edit of the draft.
    sop["steps"][0]["tasks"][1]["estimate_hours"] = 2.5
    r = await client.put(url, json={"sop": sop})
    assert r.status_code == 200, r.text
    yesterday = copy.deepcopy(sop)
    yesterday["steps"][0]["tasks"][1]["deadline"] = (now - timedelta(days=1)).isoformat()
    r = await client.put(url, json={"sop": yesterday})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "sop.steps[0].tasks[1].deadline", "message": "is already past"}
    ]


def test_an_edits_problems_name_tasks_and_steps_plainly() -> None:
    sop = SOP.model_validate(
        {
            "title": "Audit",
            "steps": [
                {"id": "s1", "title": " ", "tasks": [
                    {"id": "a", "title": "Kickoff", "estimate_hours": 1},
                    {"id": "b", "title": "  ", "estimate_hours": 1, "depends_on": ["zz"]},
                ]},
            ],
        }
    )  # fmt: skip
    problems = {p.field: plain_problem(sop, p) for p in check_sop(sop)}
    assert problems == {
        "steps[0].title": "step s1: title must contain non-whitespace text",
        "steps[0].tasks[1].title": "task b: title must contain non-whitespace text",
        "steps[0].tasks[1].depends_on": "task b: depends on 'zz', which is not a task of this plan",
    }
    past = SOPProblem(field="steps[0].tasks[0].earliest_start", message="is already past")
    assert plain_problem(sop, past) == 'task "Kickoff" (a): earliest start is already past'
    cycle = SOPProblem(field="steps", message="dependency cycle: a -> b -> a")
    assert plain_problem(sop, cycle) == "dependency cycle: a -> b -> a"
    whole = SOPProblem(field="deadline", message="the plan needs 9 h")
    assert plain_problem(sop, whole) == "deadline: the plan needs 9 h"
