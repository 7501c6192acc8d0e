"""/api/v1/graph: the graph Postgres keeps from the ontology, plans, tasks, runs and facts."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Workflow

G = "/api/v1/graph"
P = "/api/v1/planner"


async def _approved_plan(client: httpx.AsyncClient, library: dict[str, Workflow]) -> dict[str, Any]:
    """A blueprint over the onboarding workflow, a plan from it for client 7, approved."""
    wf = library["onboarding"].id
    r = await client.post(f"{P}/blueprints", json={"name": "Retainer", "workflow_sequence": [wf]})
    assert r.status_code == 201, r.text
    blueprint = r.json()["id"]
    r = await client.post(
        f"{P}/plan",
        json={
            "intent": "onboard a new client",
            "client_id": 7,
            "engagement_id": 3,
            "workflow_id": wf,
        },
    )
    assert r.status_code == 201, r.text
    plan = r.json()["id"]
    r = await client.post(f"{P}/plans/{plan}/approve")
    assert r.status_code == 200, r.text
    approved = r.json()
    task = approved["task_ids"][0]
    r = await client.post(
        f"{P}/execution-runs",
        json={"task_id": task, "started_at": "2026-03-02T09:00:00+01:00"},
    )
    assert r.status_code == 201, r.text
    return {
        "blueprint": blueprint,
        "workflow": wf,
        "plan": plan,
        "task": task,
        "tasks": approved["task_ids"],
        "template": approved["process_template_id"],
        "run": r.json()["id"],
    }


async def test_impact_of_a_blueprint_reaches_plans_tasks_and_runs(
    client: httpx.AsyncClient, library: dict[str, Workflow]
):
    ids = await _approved_plan(client, library)
    r = await client.get(f"{G}/impact", params={"node": f"blueprint:{ids['blueprint']}"})
    assert r.status_code == 200, r.text
    out = r.json()
    affected = {a["node"]["id"]: a["depth"] for a in out["affected"]}
    assert affected[f"workflow:{ids['workflow']}"] == 1
    assert affected[f"plan:{ids['plan']}"] == 2
    assert affected[f"template:{ids['template']}"] == 2
    assert {f"task:{t}" for t in ids["tasks"]} <= affected.keys()
    assert f"run:{ids['run']}" in affected
    assert out["counts"]["task"] == len(ids["tasks"]) and not out["truncated"]
    # The other workflow is not affected; the client is upstream, not downstream.
    assert f"workflow:{library['newsletter'].id}" not in affected
    assert "client:7" not in affected


async def test_neighbors_paths_and_dependencies(
    client: httpx.AsyncClient, library: dict[str, Workflow]
):
    ids = await _approved_plan(client, library)
    out = (await client.get(f"{G}/nodes/plan:{ids['plan']}/neighbors")).json()
    assert out["node"]["properties"]["status"] == "approved"
    links = {(n["node"]["id"], n["edge"]["type"], n["direction"]) for n in out["neighbors"]}
    assert ("client:7", "has_plan", "in") in links
    assert ("engagement:3", "has_plan", "in") in links
    assert (f"template:{ids['template']}", "approved_as", "out") in links
    # Task dependencies from the SOP: contract precedes kickoff.
    kick = (
        await client.get(
            f"{G}/nodes/task:{ids['tasks'][1]}/neighbors", params={"edge_type": "precedes"}
        )
    ).json()
    # contract -> kickoff -> accounts (task ids follow the SOP's order).
    assert {(n["node"]["id"], n["direction"]) for n in kick["neighbors"]} == {
        (f"task:{ids['tasks'][0]}", "in"),
        (f"task:{ids['tasks'][2]}", "out"),
    }

    r = await client.get(f"{G}/paths", params={"from": "client:7", "to": f"run:{ids['run']}"})
    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    assert paths and paths[0]["hops"] == 3
    assert [n["id"] for n in paths[0]["nodes"]][0] == "client:7"
    assert [n["id"] for n in paths[0]["nodes"]][-1] == f"run:{ids['run']}"
    # Too far for the hops allowed: no path, said plainly.
    r = await client.get(
        f"{G}/paths", params={"from": "client:7", "to": f"run:{ids['run']}", "max_hops": 2}
    )
    assert r.json()["paths"] == []


async def test_the_graph_follows_writes(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
):
    ids = await _approved_plan(client, library)
    r = await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "7",
            "fact_type": "preference",
            "category": "meetings",
            "content": "Prefers calls on Tuesdays",
        },
    )
    assert r.status_code == 201, r.text
    fact = r.json()["fact"]["id"] if "fact" in r.json() else r.json()["id"]
    out = (
        await client.get(f"{G}/nodes/client:7/neighbors", params={"edge_type": "has_fact"})
    ).json()
    assert [n["node"]["id"] for n in out["neighbors"]] == [f"fact:{fact}"]
    # A new fact in the same slot supersedes it: only the current one is in the graph.
    r = await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "7",
            "fact_type": "preference",
            "category": "meetings",
            "content": "Prefers calls on Thursdays",
        },
    )
    out = (
        await client.get(f"{G}/nodes/client:7/neighbors", params={"edge_type": "has_fact"})
    ).json()
    assert [n["node"]["properties"]["content"] for n in out["neighbors"]] == [
        "Prefers calls on Thursdays"
    ]
    # Status changes show; a deleted run leaves the graph with its edges.
    await client.post(f"{P}/plans/{ids['plan']}/status", json={"status": "cancelled"})
    node = (await client.get(f"{G}/nodes/plan:{ids['plan']}/neighbors")).json()["node"]
    assert node["properties"]["status"] == "cancelled"
    await db_session.execute(text("DELETE FROM execution_runs WHERE id = :id"), {"id": ids["run"]})
    left = await db_session.scalar(
        text("SELECT count(*) FROM graph_edges WHERE to_node_id = :n OR from_node_id = :n"),
        {"n": f"run:{ids['run']}"},
    )
    assert left == 0
    # Last: a 404 rolls the test's savepoint back, the delete above with it.
    assert (await client.get(f"{G}/nodes/run:{ids['run']}/neighbors")).status_code == 404


async def test_bad_input_is_4xx(client: httpx.AsyncClient):
    assert (await client.get(f"{G}/nodes/plan:999999/neighbors")).status_code == 404
    assert (await client.get(f"{G}/nodes/no-colon/neighbors")).status_code == 422
    assert (
        await client.get(f"{G}/impact", params={"node": "plan:1", "max_depth": 9})
    ).status_code == 422
    r = await client.get(f"{G}/paths", params={"from": "client:1", "to": "client:2", "max_hops": 7})
    assert r.status_code == 422
    r = await client.get(f"{G}/nodes/plan:1/neighbors", params={"edge_type": "DROP TABLE"})
    assert r.status_code == 422


async def test_an_unknown_node_is_a_404_naming_the_parameter_that_gave_it(
    client: httpx.AsyncClient,
):
    """The 404s named the node but no field: a caller of /paths could not tell whether
    `from` or `to` was wrong without parsing the sentence."""
    r = await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "7",
            "fact_type": "constraint",
            "content": "No calls on Fridays",
        },
    )
    assert r.status_code == 201, r.text
    cases = [
        (f"{G}/paths", {"from": "client:7", "to": "client:999"}, "to"),
        (f"{G}/paths", {"from": "client:999", "to": "client:7"}, "from"),
        (f"{G}/impact", {"node": "blueprint:999"}, "node"),
        (f"{G}/nodes/plan:999/neighbors", {}, "node_id"),
    ]
    for url, params, field in cases:
        r = await client.get(url, params=params)
        assert r.status_code == 404, r.text
        assert r.json()["errors"][0]["field"] == field, r.text


async def test_a_subject_type_with_capitals_or_digits_is_a_node_the_api_reaches(
    client: httpx.AsyncClient,
):
    """A fact about a "Vendor2" makes the node `Vendor2:acme`, but the graph API took only
    lower-case letters before the ':', so asking for the node it had just made was a 422."""
    for subject in ("Vendor2", "Person"):
        r = await client.post(
            "/api/v1/memory/facts",
            json={
                "subject_type": subject,
                "subject_id": "acme",
                "fact_type": "identity",
                "content": f"{subject} acme is a supplier",
            },
        )
        assert r.status_code == 201, r.text
        r = await client.get(f"{G}/nodes/{subject}:acme/neighbors")
        assert r.status_code == 200, r.text
        assert r.json()["node"]["id"] == f"{subject}:acme"
        assert [n["node"]["id"].split(":")[0] for n in r.json()["neighbors"]] == ["fact"]


async def test_a_long_subject_id_is_a_node_the_api_reaches(client: httpx.AsyncClient):
    """A fact's subject id may run to 255 characters, but the graph API took 200 after the
    ':', so the node a 230-character id made was a 422 to ask for."""
    subject = "i" * 230
    r = await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "vendor",
            "subject_id": subject,
            "fact_type": "identity",
            "content": "A vendor with a long name",
        },
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"{G}/nodes/vendor:{subject}/neighbors")
    assert r.status_code == 200, r.text
