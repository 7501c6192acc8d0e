"""Workflows: CRUD, SOP validation of steps, parents without cycles, delete-in-use."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Workflow
from almanac.ontology.sop import MAX_PLAN_TASKS
from tests.ontology.helpers import API, create_workflow, fields, steps, task

W = f"{API}/workflows"


async def _count(db_session: AsyncSession) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(Workflow)) or 0)


async def test_crud_round_trip(client: httpx.AsyncClient):
    created = await create_workflow(
        client, "Discovery", capability="discovery", metadata={"keywords": ["intro"]}
    )
    assert created["version"] == "1.0" and created["total_hours"] == 4.0
    assert created["task_count"] == 2 and created["children"] == []
    assert created["steps"][0]["tasks"][1]["depends_on"] == ["a"]

    got = (await client.get(f"{W}/{created['id']}")).json()
    assert got == created

    r = await client.put(
        f"{W}/{created['id']}",
        json={"steps": steps(task("x", 0.5), task("y", 0.25, ["x"])), "version": "1.1"},
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["version"] == "1.1" and updated["total_hours"] == 0.75
    assert updated["name"] == "Discovery" and updated["metadata"] == {"keywords": ["intro"]}

    r = await client.put(f"{W}/{created['id']}", json={"capability": None})
    assert r.status_code == 200 and r.json()["capability"] is None

    r = await client.delete(f"{W}/{created['id']}")
    assert r.status_code == 200 and r.json() == {
        "deleted": True,
        "id": created["id"],
        "kind": "workflow",
    }
    assert (await client.get(f"{W}/{created['id']}")).status_code == 404
    assert (await client.delete(f"{W}/{created['id']}")).status_code == 404


async def test_list_filters(client: httpx.AsyncClient):
    parent = await create_workflow(client, "Client onboarding", capability="ops")
    child = await create_workflow(
        client, "Onboarding 100%_fast", capability="ops", parent_workflow_id=parent["id"]
    )
    await create_workflow(client, "Newsletter launch", capability="growth")

    ops = (await client.get(W, params={"capability": "ops"})).json()
    assert ops["total"] == 2 and [w["name"] for w in ops["items"]] == [
        "Client onboarding",
        "Onboarding 100%_fast",
    ]
    kids = (await client.get(W, params={"parent_workflow_id": parent["id"]})).json()
    assert [w["id"] for w in kids["items"]] == [child["id"]]
    q = (await client.get(W, params={"q": "ONBOARDING"})).json()
    assert q["total"] == 2
    # `%` and `_` are matched literally, not as LIKE wildcards.
    assert (await client.get(W, params={"q": "100%_"})).json()["total"] == 1
    assert (await client.get(W, params={"q": "0%"})).json()["total"] == 1
    assert (await client.get(W, params={"q": "%"})).json()["total"] == 1
    page = (await client.get(W, params={"limit": 1, "offset": 1})).json()
    assert page["total"] == 3 and [w["id"] for w in page["items"]] == [child["id"]]

    detail = (await client.get(f"{W}/{parent['id']}")).json()
    assert detail["children"] == [child["id"]]
    for params in ({"q": "a\u0000b"}, {"capability": "Not A Slug"}, {"limit": 0}):
        r = await client.get(W, params=params)
        assert r.status_code == 422 and list(params)[0] in fields(r), r.text


async def test_dependency_cycle_is_422(client: httpx.AsyncClient, db_session: AsyncSession):
    body = {
        "name": "Loop",
        "steps": steps(task("a", 1, ["c"]), task("b", 1, ["a"]), task("c", 1, ["b"])),
    }
    r = await client.post(W, json=body)
    assert r.status_code == 422
    assert "steps" in fields(r)
    assert "dependency cycle" in r.json()["detail"]
    assert await _count(db_session) == 0


def _chain(n: int, *, closed: bool = False) -> list[dict[str, object]]:
    """n one-word tasks in 100-task steps, each waiting for the next (the last for the
    first when `closed`): depth-first from the first goes n deep."""
    keys = [f"t{i}" for i in range(n)]
    deps = [[keys[i + 1]] if i + 1 < n else ([keys[0]] if closed else []) for i in range(n)]
    tasks = [task(k, 0.01, d) for k, d in zip(keys, deps, strict=True)]
    return [
        {"id": f"s{j}", "title": "S", "tasks": tasks[j * 100 : (j + 1) * 100]}
        for j in range((n + 99) // 100)
    ]


async def test_a_chain_deeper_than_the_recursion_limit_is_checked(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # The cycle check recursed per task and answered 500 (RecursionError) from POST
    # /workflows, PUT /plans and POST /plan for 1,100 chained tasks; those are now past
    # MAX_PLAN_TASKS (a 422 naming steps, nothing else checked), and a chain as long as
    # a plan may be is checked without recursion (tests/ontology/test_sop.py goes deeper).
    r = await client.post(W, json={"name": "Too long", "steps": _chain(1100)})
    assert r.status_code == 422 and fields(r) == ["steps"], r.text[:500]
    assert f"at most {MAX_PLAN_TASKS} tasks" in r.json()["detail"]
    r = await client.post(W, json={"name": "Long chain", "steps": _chain(MAX_PLAN_TASKS)})
    assert r.status_code == 201, r.text[:500]
    plan = await client.post(
        f"{API}/plan", json={"intent": "walk the chain", "workflow_id": r.json()["id"]}
    )
    assert plan.status_code == 201, plan.text[:500]
    loop = _chain(MAX_PLAN_TASKS, closed=True)
    r = await client.post(W, json={"name": "Long loop", "steps": loop})
    assert r.status_code == 422 and "steps" in fields(r)
    assert "dependency cycle: t0 -> t1 -> " in r.json()["detail"]
    assert await _count(db_session) == 1


async def test_unknown_dependency_and_duplicate_ids_are_422(client: httpx.AsyncClient):
    r = await client.post(W, json={"name": "X", "steps": steps(task("a", 1, ["ghost"]))})
    assert r.status_code == 422
    assert fields(r) == ["steps[0].tasks[0].depends_on"]
    assert "ghost" in r.json()["errors"][0]["message"]

    r = await client.post(W, json={"name": "X", "steps": steps(task("a"), task("a"))})
    assert r.status_code == 422 and fields(r) == ["steps[0].tasks[1].id"]

    r = await client.post(W, json={"name": "X", "steps": steps(task("a", 1, ["a"]))})
    assert r.status_code == 422 and "cannot depend on itself" in r.text


async def test_field_errors_name_the_field(client: httpx.AsyncClient):
    cases = [
        ({"name": "X", "steps": []}, "steps"),
        ({"name": "", "steps": steps()}, "name"),
        ({"name": "   ", "steps": steps()}, "name"),
        ({"name": "X", "steps": steps(task("a", 0))}, "steps[0].tasks[0].estimate_hours"),
        (
            {"name": "X", "steps": steps(task("a", 1, earliest_start="2026-01-05T09:00:00"))},
            "steps[0].tasks[0].earliest_start",
        ),
        ({"name": "X", "steps": steps(), "capability": "Not A Slug"}, "capability"),
        ({"name": "X", "steps": steps(), "version": ""}, "version"),
        ({"name": "X", "steps": steps(), "unknown": 1}, "unknown"),
        ({"name": "X", "steps": steps(), "parent_workflow_id": 0}, "parent_workflow_id"),
        ({"name": "X", "steps": steps(), "metadata": {"note": "a\u0000b"}}, "metadata"),
        ({"name": "X", "steps": steps(task("a", title="nul\u0000"))}, "steps"),
    ]
    for body, field in cases:
        r = await client.post(W, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in fields(r), (body, r.json())


async def test_naive_datetime_in_steps_is_422(client: httpx.AsyncClient):
    bad = task("a", 1, deadline="2026-03-01T17:00:00")
    r = await client.post(W, json={"name": "Naive", "steps": steps(bad)})
    assert r.status_code == 422
    assert fields(r) == ["steps[0].tasks[0].deadline"]
    assert "UTC offset" in r.json()["errors"][0]["message"]


async def test_bad_path_ids_and_update_bodies(client: httpx.AsyncClient):
    assert (await client.get(f"{W}/0")).status_code == 422
    assert (await client.get(f"{W}/abc")).status_code == 422
    assert (await client.get(f"{W}/{2**63}")).status_code == 422
    assert (await client.get(f"{W}/{2**63 - 1}")).status_code == 404
    wf = await create_workflow(client)
    r = await client.put(f"{W}/{wf['id']}", json={})
    assert r.status_code == 422
    r = await client.put(f"{W}/{wf['id']}", json={"name": None})
    assert r.status_code == 422 and fields(r) == ["name"]
    r = await client.put(f"{W}/{wf['id']}", json={"steps": steps(task("a", 1, ["nope"]))})
    assert r.status_code == 422 and fields(r) == ["steps[0].tasks[0].depends_on"]
    assert (await client.get(f"{W}/{wf['id']}")).json()["steps"] == wf["steps"]
    r = await client.post(W, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400


async def test_duplicate_name_and_version_is_409(client: httpx.AsyncClient):
    first = await create_workflow(client, "Weekly review")
    r = await client.post(W, json={"name": "Weekly review", "steps": steps()})
    assert r.status_code == 409 and str(first["id"]) in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["version"]
    other = await create_workflow(client, "Weekly review", version="2.0")
    r = await client.put(f"{W}/{other['id']}", json={"version": "1.0"})
    assert r.status_code == 409
    assert [e["field"] for e in r.json()["errors"]] == ["version"]


async def test_unknown_parent_is_422(client: httpx.AsyncClient, db_session: AsyncSession):
    r = await client.post(W, json={"name": "Orphan", "steps": steps(), "parent_workflow_id": 999})
    assert r.status_code == 422 and fields(r) == ["parent_workflow_id"]
    assert await _count(db_session) == 0


async def test_parent_cycle_is_422(client: httpx.AsyncClient):
    a = await create_workflow(client, "A")
    b = await create_workflow(client, "B", parent_workflow_id=a["id"])
    c = await create_workflow(client, "C", parent_workflow_id=b["id"])

    r = await client.put(f"{W}/{a['id']}", json={"parent_workflow_id": c["id"]})
    assert r.status_code == 422 and fields(r) == ["parent_workflow_id"]
    assert "cycle" in r.json()["detail"]
    r = await client.put(f"{W}/{a['id']}", json={"parent_workflow_id": a["id"]})
    assert r.status_code == 422 and fields(r) == ["parent_workflow_id"]
    assert (await client.get(f"{W}/{a['id']}")).json()["parent_workflow_id"] is None

    # Moving C under A is fine, and clearing a parent is allowed.
    r = await client.put(f"{W}/{c['id']}", json={"parent_workflow_id": a["id"]})
    assert r.status_code == 200 and r.json()["parent_workflow_id"] == a["id"]
    r = await client.put(f"{W}/{b['id']}", json={"parent_workflow_id": None})
    assert r.status_code == 200 and r.json()["parent_workflow_id"] is None
    assert sorted((await client.get(f"{W}/{a['id']}")).json()["children"]) == [c["id"]]


async def test_delete_in_use_is_409(client: httpx.AsyncClient):
    parent = await create_workflow(client, "Parent")
    child = await create_workflow(client, "Child", parent_workflow_id=parent["id"])
    r = await client.delete(f"{W}/{parent['id']}")
    assert r.status_code == 409
    assert "child workflows" in r.json()["detail"] and str(child["id"]) in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["workflow_id"]

    used = await create_workflow(client, "Used")
    t = await client.post(f"{API}/process-templates", json={"name": "T", "workflow_id": used["id"]})
    assert t.status_code == 201, t.text
    r = await client.delete(f"{W}/{used['id']}")
    assert r.status_code == 409 and "process templates" in r.json()["detail"]

    in_blueprint = await create_workflow(client, "In blueprint")
    bp = await client.post(
        f"{API}/blueprints", json={"name": "BP", "workflow_sequence": [in_blueprint["id"]]}
    )
    assert bp.status_code == 201
    r = await client.delete(f"{W}/{in_blueprint['id']}")
    assert r.status_code == 409 and "service blueprints" in r.json()["detail"]

    for wf in (parent, used, in_blueprint):
        assert (await client.get(f"{W}/{wf['id']}")).status_code == 200
    # Once the child is gone, the parent can go.
    assert (await client.delete(f"{W}/{child['id']}")).status_code == 200
    assert (await client.delete(f"{W}/{parent['id']}")).status_code == 200
