"""An edited plan's task deadlines keep the rules a task's own edit (PATCH /tasks/{id})
keeps: at most ten years ahead (the plan accepted any year up to 2200), and never before
the deadline of a task it depends on (it could only be late); a 422 naming the task, and
nothing written."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan, Workflow
from tests.conftest import ok
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.planner.test_plan_llm import PLAN, SHED
from tests.planner.test_plan_llm import sop as llm_sop

from .test_plans import new_plan

TOO_FAR = "must not be more than 10 years in the future (a deadline of planned work)"


async def test_a_task_deadline_past_ten_years_is_a_422_as_on_the_task(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)  # no plan deadline: nothing else bounds its tasks'
    url = f"/api/v1/planner/plans/{plan['id']}"
    sop = copy.deepcopy(plan["sop"])
    sop["steps"][0]["tasks"][1]["deadline"] = "2150-01-01T00:00:00Z"
    r = await client.put(url, json={"sop": sop})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "sop.steps[0].tasks[1].deadline", "message": TOO_FAR}]
    assert r.json()["detail"] == (
        "the edited plan is inconsistent: "
        f'task "Kickoff call with the client" (kickoff): deadline {TOO_FAR}'
    )
    assert (await client.get(url)).json()["version"] == 1
    # The task's own field says the same, from the same bound.
    r = await client.patch("/api/v1/planner/tasks/1", json={"deadline": "2150-01-01T00:00:00Z"})
    assert r.status_code == 422, r.text
    assert TOO_FAR in r.json()["errors"][0]["message"], r.text
    # Nine years ahead is within it, in a plan as on a task.
    sop["steps"][0]["tasks"][1]["deadline"] = (
        datetime.now(UTC) + timedelta(days=9 * 365)
    ).isoformat()
    r = await client.put(url, json={"sop": sop})
    assert r.status_code == 200, r.text


async def test_a_task_due_before_a_task_it_depends_on_is_a_422_naming_both(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    url = f"/api/v1/planner/plans/{plan['id']}"
    sop = copy.deepcopy(plan["sop"])
    now = datetime.now(UTC)
    later, sooner = now + timedelta(days=20), now + timedelta(days=10)
    sop["steps"][0]["tasks"][0]["deadline"] = later.isoformat()  # contract
    sop["steps"][0]["tasks"][1]["deadline"] = sooner.isoformat()  # kickoff, after contract
    r = await client.put(url, json={"sop": sop})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["errors"] == [
        {
            "field": "sop.steps[0].tasks[1].deadline",
            "message": (
                f"is before the deadline of steps[0].tasks[0] ({later.isoformat()}), "
                "which it depends on"
            ),
        }
    ]
    assert problem["detail"] == (
        "the edited plan is inconsistent: "
        'task "Kickoff call with the client" (kickoff): deadline is before the deadline of '
        f'task "Send contract and invoice" (contract) ({later.isoformat()}), '
        "which it depends on"
    )
    assert (await client.get(url)).json()["version"] == 1  # nothing written
    # The same day for both, as PATCH allows (only an earlier deadline is refused).
    sop["steps"][0]["tasks"][1]["deadline"] = later.isoformat()
    assert (await client.put(url, json={"sop": sop})).status_code == 200


async def test_an_llm_plan_with_a_task_due_before_the_plan_fills_its_dependency_by_then(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    """The plan's deadline filled in a dependency left without one: its dependent, due
    sooner, then read as due before it and the paid-for plan was a 422."""
    now = datetime.now(UTC)
    answer = llm_sop(("sand", 2, []), ("prime", 1, ["sand"]))
    soon = now + timedelta(days=10)
    answer["steps"][0]["tasks"][1]["deadline"] = soon.isoformat()
    chat.script(Reply.json(answer))
    r = await llm_client.post(
        PLAN, json={**SHED, "deadline": (now + timedelta(days=30)).isoformat()}
    )
    assert r.status_code == 201, r.text
    tasks = {t["id"]: t for t in r.json()["sop"]["steps"][0]["tasks"]}
    assert datetime.fromisoformat(tasks["sand"]["deadline"]) == soon


async def test_a_draft_stored_under_older_rules_is_refused_at_approval_with_nothing_written(
    client: httpx.AsyncClient, db_session: AsyncSession, library: dict[str, Workflow]
) -> None:
    """A draft stored before the deadline rules (a task due before one it depends on) is
    held to them when approved: a 422 naming the task, no tasks made, still a draft."""
    plan = await new_plan(client)
    url = f"/api/v1/planner/plans/{plan['id']}"
    sop = copy.deepcopy(plan["sop"])
    now = datetime.now(UTC)
    later, sooner = now + timedelta(days=20), now + timedelta(days=10)
    sop["steps"][0]["tasks"][0]["deadline"] = later.isoformat()  # contract
    sop["steps"][0]["tasks"][1]["deadline"] = sooner.isoformat()  # kickoff, after contract
    # As an older version stored it: straight into the row, past today's edit check.
    await db_session.execute(update(Plan).where(Plan.id == plan["id"]).values(sop=sop))
    r = await client.post(f"{url}/approve")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "sop.steps[0].tasks[1].deadline", r.text
    assert "which it depends on" in r.json()["errors"][0]["message"]
    assert (await client.get(url)).json()["status"] == "draft"
    tasks = await client.get("/api/v1/planner/tasks", params={"plan_id": plan["id"]})
    assert tasks.json()["total"] == 0, tasks.text
    # Mended by an edit, it is approved.
    sop["steps"][0]["tasks"][1]["deadline"] = later.isoformat()
    await ok(await client.put(url, json={"sop": sop}))
    await ok(await client.post(f"{url}/approve"))
