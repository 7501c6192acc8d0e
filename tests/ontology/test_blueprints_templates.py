"""Service blueprints and process templates: CRUD, references, defaults."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import ExecutionRun, ProcessTemplate, ServiceBlueprint, Task
from tests.ontology.helpers import API, create_workflow, fields, steps, task

B = f"{API}/blueprints"
P = f"{API}/process-templates"


async def test_blueprint_crud_and_default_duration(client: httpx.AsyncClient):
    one = await create_workflow(client, "One")  # 4 h
    two = await create_workflow(client, "Two", steps=steps(task("z", 2.25)))
    r = await client.post(
        B,
        json={
            "name": "Engagement",
            "description": "Start to finish",
            "offer_id": 7,
            "workflow_sequence": [one["id"], two["id"], one["id"]],
        },
    )
    assert r.status_code == 201, r.text
    bp = r.json()
    assert bp["workflow_sequence"] == [one["id"], two["id"], one["id"]]
    assert bp["estimated_duration_hrs"] == 10.25  # a repeated workflow counts each time
    assert (await client.get(f"{B}/{bp['id']}")).json() == bp

    listed = (await client.get(B, params={"offer_id": 7})).json()
    assert [b["id"] for b in listed["items"]] == [bp["id"]]
    assert (await client.get(B, params={"q": "engage"})).json()["total"] == 1
    assert (await client.get(B, params={"offer_id": 8})).json()["total"] == 0

    # A new sequence re-derives the estimate unless one is given.
    r = await client.put(f"{B}/{bp['id']}", json={"workflow_sequence": [two["id"]]})
    assert r.status_code == 200 and r.json()["estimated_duration_hrs"] == 2.25
    r = await client.put(f"{B}/{bp['id']}", json={"estimated_duration_hrs": 40, "offer_id": None})
    assert r.json()["estimated_duration_hrs"] == 40 and r.json()["offer_id"] is None
    explicit = await client.post(
        B, json={"name": "Fixed", "workflow_sequence": [one["id"]], "estimated_duration_hrs": 12}
    )
    assert explicit.json()["estimated_duration_hrs"] == 12

    assert (await client.delete(f"{B}/{bp['id']}")).json()["kind"] == "blueprint"
    assert (await client.get(f"{B}/{bp['id']}")).status_code == 404


async def test_blueprint_unknown_workflow_is_422(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    one = await create_workflow(client, "One")
    r = await client.post(B, json={"name": "Bad", "workflow_sequence": [one["id"], 424242]})
    assert r.status_code == 422 and fields(r) == ["workflow_sequence"]
    assert "424242" in r.json()["detail"]
    for body, field in [
        ({"name": "Bad", "workflow_sequence": []}, "workflow_sequence"),
        ({"name": "Bad", "workflow_sequence": [0]}, "workflow_sequence[0]"),
        ({"name": "Bad", "workflow_sequence": [one["id"]], "offer_id": 2**31}, "offer_id"),
        (
            {"name": "Bad", "workflow_sequence": [one["id"]], "estimated_duration_hrs": -1},
            "estimated_duration_hrs",
        ),
    ]:
        r = await client.post(B, json=body)
        assert r.status_code == 422 and field in fields(r), r.text
    bp = (await client.post(B, json={"name": "Ok", "workflow_sequence": [one["id"]]})).json()
    r = await client.put(f"{B}/{bp['id']}", json={"workflow_sequence": [31337]})
    assert r.status_code == 422 and fields(r) == ["workflow_sequence"]
    assert (await client.get(f"{B}/{bp['id']}")).json()["workflow_sequence"] == [one["id"]]
    count = await db_session.scalar(select(func.count()).select_from(ServiceBlueprint))
    assert count == 1


async def test_process_template_crud(client: httpx.AsyncClient):
    wf = await create_workflow(client, "Onboarding")
    r = await client.post(P, json={"name": "Acme onboarding", "workflow_id": wf["id"]})
    assert r.status_code == 201, r.text
    pt = r.json()
    # The checklist is flat, one item per task with its step, as the planner stores it.
    assert pt["status"] == "draft" and pt["total_hours"] == 4.0
    assert [(i["id"], i["step"], i["depends_on"]) for i in pt["checklist"]] == [
        ("a", "s1", []),
        ("b", "s1", ["a"]),
    ]
    assert (await client.get(f"{P}/{pt['id']}")).json() == pt
    # What GET returns can be sent back.
    r = await client.put(f"{P}/{pt['id']}", json={"checklist": pt["checklist"]})
    assert r.status_code == 200 and r.json()["checklist"] == pt["checklist"]

    own = await client.post(
        P,
        json={
            "name": "Custom",
            "engagement_id": 12,
            "status": "active",
            "checklist": steps(task("only", 3)),
        },
    )
    assert own.status_code == 201 and own.json()["total_hours"] == 3

    assert (await client.get(P, params={"workflow_id": wf["id"]})).json()["total"] == 1
    assert (await client.get(P, params={"engagement_id": 12})).json()["total"] == 1
    assert (await client.get(P, params={"status": "active"})).json()["total"] == 1
    assert (await client.get(P, params={"status": "bogus"})).status_code == 422

    r = await client.put(f"{P}/{pt['id']}", json={"status": "paused", "engagement_id": 3})
    assert r.status_code == 200 and (r.json()["status"], r.json()["engagement_id"]) == (
        "paused",
        3,
    )
    r = await client.put(f"{P}/{pt['id']}", json={"status": "archived"})
    assert r.status_code == 422 and fields(r) == ["status"]
    r = await client.put(f"{P}/{pt['id']}", json={"workflow_id": None})
    assert r.status_code == 200 and r.json()["workflow_id"] is None

    assert (await client.delete(f"{P}/{pt['id']}")).json()["kind"] == "process_template"
    assert (await client.get(f"{P}/{pt['id']}")).status_code == 404


async def test_process_template_validation(client: httpx.AsyncClient, db_session: AsyncSession):
    r = await client.post(P, json={"name": "Nothing to copy"})
    assert r.status_code == 422 and fields(r) == ["checklist"]
    r = await client.post(P, json={"name": "Ghost", "workflow_id": 98765})
    assert r.status_code == 422 and fields(r) == ["workflow_id"]
    r = await client.post(P, json={"name": "Loop", "checklist": steps(task("a", 1, ["a"]))})
    assert r.status_code == 422 and fields(r) == ["checklist[0].tasks[0].depends_on"]
    flat = [
        {"id": "a", "title": "A", "estimate_hours": 1, "step": "s", "step_title": "S"},
        {"id": "b", "title": "B", "estimate_hours": 1, "step": "s", "step_title": "S"},
        {
            "id": "c",
            "title": "C",
            "estimate_hours": 1,
            "step": "t",
            "step_title": "T",
            "depends_on": ["zzz"],
        },
    ]
    r = await client.post(P, json={"name": "Flat", "checklist": flat})
    assert r.status_code == 422 and fields(r) == ["checklist[2].depends_on"], r.text
    r = await client.post(P, json={"name": "X", "checklist": steps(), "status": "done"})
    assert r.status_code == 422 and fields(r) == ["status"]
    assert await db_session.scalar(select(func.count()).select_from(ProcessTemplate)) == 0


async def test_a_checklist_too_crowded_for_a_plan_names_the_checklist(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """A flat checklist's items group into a plan's steps (at most 50, of at most 100
    tasks each): past those, the 422 names `checklist` and says which bound, not `tasks`
    or `steps`, fields the caller never sent."""

    def item(n: int, step: str) -> dict[str, object]:
        return {"id": f"t{n}", "title": "T", "estimate_hours": 1, "step": step, "step_title": "S"}

    one_step = [item(n, "s") for n in range(101)]
    many_steps = [item(n, f"s{n}") for n in range(51)]
    step_form = [{"id": f"s{n}", "title": "S", "tasks": [task(f"t{n}")]} for n in range(51)]
    for checklist, said in (
        (one_step, "step 's' has 101 items"),
        (many_steps, "51 steps"),
        (step_form, "at most 50 steps"),
    ):
        r = await client.post(P, json={"name": "Crowded", "checklist": checklist})
        assert r.status_code == 422 and fields(r) == ["checklist"], r.text
        assert said in r.json()["detail"], r.text
        r = await client.post(P, json={"name": "Fits", "checklist": steps()})
        r = await client.put(f"{P}/{r.json()['id']}", json={"checklist": checklist})
        assert r.status_code == 422 and fields(r) == ["checklist"], r.text


async def test_process_template_in_use_is_409(client: httpx.AsyncClient, db_session: AsyncSession):
    pt = (await client.post(P, json={"name": "Busy", "checklist": steps()})).json()
    db_session.add(Task(process_template_id=pt["id"], title="t", estimate_hours=1))
    await db_session.commit()
    run = await client.post(f"{API}/execution-runs", json={"process_template_id": pt["id"]})
    assert run.status_code == 201
    r = await client.delete(f"{P}/{pt['id']}")
    assert r.status_code == 409 and "execution runs" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["template_id"]
    assert await db_session.scalar(select(func.count()).select_from(ExecutionRun)) == 1

    # Without runs, deleting a template takes its tasks with it.
    free = (await client.post(P, json={"name": "Free", "checklist": steps()})).json()
    db_session.add(Task(process_template_id=free["id"], title="t", estimate_hours=1))
    await db_session.commit()
    assert (await client.delete(f"{P}/{free['id']}")).status_code == 200
    left = await db_session.scalar(
        select(func.count()).select_from(Task).where(Task.process_template_id == free["id"])
    )
    assert left == 0
