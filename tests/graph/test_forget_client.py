"""Forgetting a client leaves nothing of it in the graph; other clients and shared nodes stay."""

from __future__ import annotations

from typing import Any

import httpx

from almanac.models import Workflow

G = "/api/v1/graph"
P = "/api/v1/planner"
M = "/api/v1/memory"


def kinds(out: dict[str, Any]) -> set[str]:
    return {n["edge"]["type"] for n in out["neighbors"]}


async def _plan(client: httpx.AsyncClient, wf: int, client_id: int, engagement: int) -> int:
    r = await client.post(
        f"{P}/plan",
        json={
            "intent": "onboard a new client",
            "client_id": client_id,
            "workflow_id": wf,
            "engagement_id": engagement,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _client_with_everything(client: httpx.AsyncClient, wf: int, client_id: int) -> int:
    """Memories, a fact, a document and an approved plan for `client_id` (in engagement
    `client_id * 10`); the plan's id."""
    r = await client.post(f"{M}/remember", json={"content": "Kickoff call", "client_id": client_id})
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{M}/facts",
        json={
            "subject_type": "client",
            "subject_id": str(client_id),
            "fact_type": "constraint",
            "content": "No calls on Fridays",
        },
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{M}/documents",
        files={"file": ("brief.md", b"# Brief\n\nTwelve weeks of work.\n")},
        data={"client_id": str(client_id)},
    )
    assert r.status_code == 201, r.text
    plan = await _plan(client, wf, client_id, client_id * 10)
    assert (await client.post(f"{P}/plans/{plan}/approve")).status_code == 200
    return plan


async def test_forgetting_a_client_removes_its_node_and_edges(
    client: httpx.AsyncClient, library: dict[str, Workflow]
):
    wf = library["onboarding"].id
    r = await client.post(f"{P}/blueprints", json={"name": "Retainer", "workflow_sequence": [wf]})
    assert r.status_code == 201, r.text
    blueprint = r.json()["id"]
    await _client_with_everything(client, wf, 7)
    kept_plan = await _client_with_everything(client, wf, 8)
    before = (await client.get(f"{G}/nodes/client:7/neighbors")).json()
    assert kinds(before) >= {"has_plan", "has_fact", "has_document"}

    r = await client.delete(f"{M}/subjects/client/7")
    assert r.status_code == 200, r.text
    gone = await client.get(f"{G}/nodes/client:7/neighbors")
    assert gone.status_code == 404, gone.text
    assert r.json()["deleted"]["client_nodes"] == 1
    other = (await client.get(f"{G}/nodes/client:8/neighbors")).json()
    assert kinds(other) >= {"has_plan", "has_fact", "has_document"}
    assert f"plan:{kept_plan}" in {n["node"]["id"] for n in other["neighbors"]}
    shared = (await client.get(f"{G}/nodes/blueprint:{blueprint}/neighbors")).json()
    assert (f"workflow:{wf}", "includes") in {
        (n["node"]["id"], n["edge"]["type"]) for n in shared["neighbors"]
    }


async def test_forgetting_a_client_removes_its_engagement_nodes_not_shared_ones(
    client: httpx.AsyncClient, library: dict[str, Workflow]
):
    """The client's plans made `engagement:N` nodes; forgetting the client left them,
    emptied, still answering on the graph endpoints."""
    wf = library["onboarding"].id
    await _client_with_everything(client, wf, 7)
    await _client_with_everything(client, wf, 8)
    await _plan(client, wf, 7, 99)
    shared_plan = await _plan(client, wf, 8, 99)
    before = (await client.get(f"{G}/nodes/engagement:70/neighbors")).json()
    assert kinds(before) == {"has_plan", "has_template", "has_engagement"}

    r = await client.delete(f"{M}/subjects/client/7")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["engagement_nodes"] == 1
    gone = await client.get(f"{G}/nodes/engagement:70/neighbors")
    assert gone.status_code == 404, gone.text
    impact = await client.get(f"{G}/impact", params={"node": "engagement:70"})
    assert impact.status_code == 404, impact.text
    kept = (await client.get(f"{G}/nodes/engagement:80/neighbors")).json()
    assert {n["node"]["id"] for n in kept["neighbors"]} >= {"client:8"}
    # An engagement the other client's plan is also in stays, with only that plan.
    shared = (await client.get(f"{G}/nodes/engagement:99/neighbors")).json()
    assert {n["node"]["id"] for n in shared["neighbors"]} == {
        f"plan:{shared_plan}",
        "client:8",
    }


async def _fact(client: httpx.AsyncClient, subject: str, content: str, **extra: Any) -> None:
    kind, name = subject.split(":")
    body = {"subject_type": kind, "subject_id": name, "fact_type": "identity", "content": content}
    r = await client.post(f"{M}/facts", json={**body, **extra})
    assert r.status_code == 201, r.text


async def test_forgetting_leaves_no_bare_node_a_forgotten_fact_hung_off(
    client: httpx.AsyncClient, library: dict[str, Workflow]
):
    """A fact's subject is a node (`person:quentin-marsh`); once the client's facts, or the
    person, were forgotten, the node stayed, bare, naming them on the graph endpoints."""
    await _fact(client, "person:quentin-marsh", "Quentin Marsh is Zorblax's CFO", client_id=7)
    await _fact(client, "person:dana-lee", "Dana Lee is on both accounts", client_id=7)
    await _fact(client, "person:dana-lee", "Dana Lee signs Globex's invoices", client_id=8)
    await _fact(client, "person:ana-ruiz", "Ana Ruiz is the owner's accountant")
    wf = library["onboarding"].id
    await _fact(client, f"workflow:{wf}", "Onboarding takes two weeks", client_id=7)

    r = await client.delete(f"{M}/subjects/client/7")
    assert r.status_code == 200, r.text
    gone = await client.get(f"{G}/nodes/person:quentin-marsh/neighbors")
    assert gone.status_code == 404, gone.text
    assert r.json()["deleted"]["subject_nodes"] == 1
    # Another client's fact still hangs off Dana; a workflow's node is its table's.
    shared = (await client.get(f"{G}/nodes/person:dana-lee/neighbors")).json()
    assert [n["edge"]["type"] for n in shared["neighbors"]] == ["has_fact"]
    assert (await client.get(f"{G}/nodes/workflow:{wf}/neighbors")).status_code == 200

    r = await client.delete(f"{M}/subjects/person/ana-ruiz")
    assert r.status_code == 200, r.text
    assert (await client.get(f"{G}/nodes/person:ana-ruiz/neighbors")).status_code == 404
