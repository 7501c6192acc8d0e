"""A fact is a graph node until its `valid_to` has passed (migration 0042).

Before, any fact with a `valid_to` left the graph: "rate 1200", valid now until next
month's "rate 1400", was no node while its future successor was. Time passing fires no
trigger, so retention's step drops the nodes of facts that have ended since.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.memory.entity_links import EntityLinkRepository

G = "/api/v1/graph"
M = "/api/v1/memory"
SUBJECT = "client:41"


async def _rate(client: httpx.AsyncClient, content: str, valid_from: datetime) -> int:
    body = {
        "subject_type": "client",
        "subject_id": "41",
        "fact_type": "constraint",
        "category": "rate",
        "content": content,
        "valid_from": valid_from.isoformat(),
    }
    r = await client.post(f"{M}/facts", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["fact"]["id"])


async def _supersede(client: httpx.AsyncClient, fact: int, content: str, when: datetime) -> int:
    r = await client.post(
        f"{M}/facts/{fact}/supersede", json={"content": content, "valid_from": when.isoformat()}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["fact"]["id"])


async def _fact_nodes(client: httpx.AsyncClient) -> set[str]:
    r = await client.get(f"{G}/nodes/{SUBJECT}/neighbors", params={"edge_type": "has_fact"})
    assert r.status_code == 200, r.text
    return {n["node"]["id"] for n in r.json()["neighbors"]}


async def test_a_fact_with_an_end_ahead_is_a_node_beside_its_future_successor(
    client: httpx.AsyncClient,
):
    now = datetime.now(UTC)
    old = await _rate(client, "rate 1200", now - timedelta(days=10))
    new = await _supersede(client, old, "rate 1400", now + timedelta(days=30))
    assert await _fact_nodes(client) == {f"fact:{old}", f"fact:{new}"}
    # Each node says when it applies: which of the slot's two versions holds now.
    r = await client.get(f"{G}/nodes/{SUBJECT}/neighbors", params={"edge_type": "has_fact"})
    props = {n["node"]["id"]: n["node"]["properties"] for n in r.json()["neighbors"]}
    assert props[f"fact:{old}"]["valid_to"] == props[f"fact:{new}"]["valid_from"] is not None
    assert props[f"fact:{new}"]["valid_to"] is None
    # Impact from the client reaches both.
    r = await client.get(f"{G}/impact", params={"node": SUBJECT})
    assert r.status_code == 200, r.text
    assert {f"fact:{old}", f"fact:{new}"} <= {i["node"]["id"] for i in r.json()["affected"]}


async def test_a_fact_whose_end_has_passed_is_no_node(client: httpx.AsyncClient):
    now = datetime.now(UTC)
    old = await _rate(client, "rate 1000", now - timedelta(days=10))
    new = await _supersede(client, old, "rate 1100", now - timedelta(days=2))
    assert await _fact_nodes(client) == {f"fact:{new}"}


async def test_retention_step_drops_a_fact_once_its_end_has_passed(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    now = datetime.now(UTC)
    old = await _rate(client, "rate 1200", now - timedelta(days=10))
    new = await _supersede(client, old, "rate 1400", now + timedelta(days=30))
    # Time passes: the end moves into the past without the trigger firing, as a clock does.
    await db_session.execute(text("ALTER TABLE facts DISABLE TRIGGER facts_graph"))
    await db_session.execute(
        text("UPDATE facts SET valid_to = :t WHERE id = :old"),
        {"t": now - timedelta(days=1), "old": old},
    )
    await db_session.execute(
        text("UPDATE facts SET valid_from = :t WHERE id = :new"),
        {"t": now - timedelta(days=1), "new": new},
    )
    await db_session.execute(text("ALTER TABLE facts ENABLE TRIGGER facts_graph"))
    await db_session.commit()  # a savepoint: a request's 404 rolls back only its own
    assert await _fact_nodes(client) == {f"fact:{old}", f"fact:{new}"}  # stale until the step

    assert await EntityLinkRepository(db_session).drop_ended_facts() == 1
    await db_session.commit()
    assert await _fact_nodes(client) == {f"fact:{new}"}
    assert await EntityLinkRepository(db_session).drop_ended_facts() == 0  # idempotent


async def test_the_step_drops_a_subject_only_the_ended_fact_hung_off(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    r = await client.post(
        f"{M}/facts",
        json={
            "subject_type": "person",
            "subject_id": "ida-berg",
            "fact_type": "identity",
            "content": "Ida Berg is the bookkeeper",
        },
    )
    assert r.status_code == 201, r.text
    fact = int(r.json()["fact"]["id"])
    await db_session.execute(text("ALTER TABLE facts DISABLE TRIGGER facts_graph"))
    await db_session.execute(
        text("UPDATE facts SET valid_to = valid_from WHERE id = :id"), {"id": fact}
    )
    await db_session.execute(text("ALTER TABLE facts ENABLE TRIGGER facts_graph"))
    await db_session.commit()  # a savepoint: a request's 404 rolls back only its own
    assert (await client.get(f"{G}/nodes/person:ida-berg/neighbors")).status_code == 200

    assert await EntityLinkRepository(db_session).drop_ended_facts() == 1
    await db_session.commit()
    assert (await client.get(f"{G}/nodes/fact:{fact}/neighbors")).status_code == 404
    assert (await client.get(f"{G}/nodes/person:ida-berg/neighbors")).status_code == 404
