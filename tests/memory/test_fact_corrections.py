"""Correcting today's fact after a later-dated successor was stated: the correction goes
between the two (the fact valid today is closed, the successor follows the correction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import LocalCache
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.facts import FactService
from almanac.memory.invalidation import Invalidator
from almanac.memory.schemas import FactIn, SupersedeIn
from almanac.models import Fact, FactEmbedding

F = "/api/v1/memory/facts"
SLOT = {
    "subject_type": "client",
    "subject_id": "globex",
    "fact_type": "identity",
    "category": "rate",
}


def at(moment: datetime) -> str:
    return moment.isoformat()


async def rate_with_later_successor(client: httpx.AsyncClient) -> tuple[dict[str, Any], ...]:
    """Fact A (1200, since a month ago), superseded by B (1400) from a month ahead."""
    now = datetime.now(UTC)
    a = await client.post(
        F, json={**SLOT, "content": "Day rate 1200", "valid_from": at(now - timedelta(days=30))}
    )
    assert a.status_code == 201, a.text
    b = await client.post(
        f"{F}/{a.json()['fact']['id']}/supersede",
        json={"content": "Day rate 1400", "valid_from": at(now + timedelta(days=30))},
    )
    assert b.status_code == 201, b.text
    return a.json()["fact"], b.json()["fact"]


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await client.get(F, params={"subject_id": "globex", **params})
    assert r.status_code == 200, r.text
    return [f["content"] for f in r.json()]


async def count_facts(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Fact)) or 0)


@pytest.mark.parametrize("how", ["post", "supersede"])
async def test_todays_fact_is_corrected_between_it_and_its_later_successor(
    client: httpx.AsyncClient, how: str
):
    a, b = await rate_with_later_successor(client)
    before = datetime.now(UTC)
    if how == "post":
        r = await client.post(F, json={**SLOT, "content": "Day rate 1250"})
    else:
        r = await client.post(f"{F}/{a['id']}/supersede", json={"content": "Day rate 1250"})
    after = datetime.now(UTC)
    assert r.status_code == 201, r.text
    assert r.json()["superseded_id"] == a["id"] and r.json()["duplicate"] is False
    new = r.json()["fact"]
    assert new["current"] is True and new["supersedes_id"] == a["id"]
    assert before <= datetime.fromisoformat(new["valid_from"]) <= after
    assert new["valid_to"] == b["valid_from"]

    history = {
        f["id"]: f
        for f in (
            await client.get(F, params={"subject_id": "globex", "include_history": True})
        ).json()
    }
    assert set(history) == {a["id"], new["id"], b["id"]}
    # One chain, each version ending where the next starts: A -> correction -> B.
    assert history[a["id"]]["valid_to"] == new["valid_from"]
    assert history[b["id"]]["supersedes_id"] == new["id"]
    assert (
        history[b["id"]]["valid_from"] == new["valid_to"] and history[b["id"]]["valid_to"] is None
    )
    assert [history[i]["current"] for i in (a["id"], new["id"], b["id"])] == [False, True, False]

    assert await listed(client) == ["Day rate 1250"]
    assert await listed(client, as_of=at(before - timedelta(days=1))) == ["Day rate 1200"]
    assert await listed(client, as_of=at(after)) == ["Day rate 1250"]
    assert await listed(client, as_of=b["valid_from"]) == ["Day rate 1400"]
    assert await listed(client, as_of=at(after + timedelta(days=40))) == ["Day rate 1400"]
    recall = await client.get(
        "/api/v1/memory/recall",
        params={"query": "Day rate", "kinds": "fact", "floor": "false"},
    )
    assert [h["content"] for h in recall.json()["results"]] == ["Day rate 1250"]


async def test_a_correction_dated_inside_a_later_version_goes_between_that_one_and_its_successor(
    client: httpx.AsyncClient,
):
    """Versions A (now), B (+30 d), C (+60 d): a write dated +45 d closes B, not A."""
    a, b = await rate_with_later_successor(client)
    now = datetime.now(UTC)
    c = await client.post(
        f"{F}/{b['id']}/supersede",
        json={"content": "Day rate 1500", "valid_from": at(now + timedelta(days=60))},
    )
    assert c.status_code == 201, c.text
    r = await client.post(
        F, json={**SLOT, "content": "Day rate 1450", "valid_from": at(now + timedelta(days=45))}
    )
    assert r.status_code == 201, r.text
    new = r.json()["fact"]
    assert (
        r.json()["superseded_id"] == b["id"] and new["valid_to"] == c.json()["fact"]["valid_from"]
    )
    assert await listed(client) == ["Day rate 1200"]
    assert await listed(client, as_of=at(now + timedelta(days=40))) == ["Day rate 1400"]
    assert await listed(client, as_of=at(now + timedelta(days=50))) == ["Day rate 1450"]
    assert await listed(client, as_of=at(now + timedelta(days=70))) == ["Day rate 1500"]
    history = (await client.get(F, params={"subject_id": "globex", "include_history": True})).json()
    chain = {f["id"]: f["supersedes_id"] for f in history}
    assert chain == {
        a["id"]: None,
        b["id"]: a["id"],
        new["id"]: b["id"],
        c.json()["fact"]["id"]: new["id"],
    }


async def test_the_value_valid_then_restated_is_a_duplicate(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    a, _ = await rate_with_later_successor(client)
    rows = await count_facts(db_session)
    r = await client.post(F, json={**SLOT, "content": "day  rate 1200"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["duplicate"] is True and r.json()["fact"]["id"] == a["id"]
    assert await count_facts(db_session) == rows
    assert await listed(client) == ["Day rate 1200"]


async def test_a_write_before_the_slots_first_fact_is_still_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    a, _ = await rate_with_later_successor(client)
    rows = await count_facts(db_session)
    early = at(datetime.fromisoformat(a["valid_from"]) - timedelta(days=1))
    r = await client.post(F, json={**SLOT, "content": "Day rate 1100", "valid_from": early})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["valid_from"]
    assert f"fact {a['id']}" in r.json()["detail"]
    assert await count_facts(db_session) == rows
    history = (await client.get(F, params={"subject_id": "globex", "include_history": True})).json()
    assert sorted(f["content"] for f in history) == ["Day rate 1200", "Day rate 1400"]


async def test_superseding_a_fact_at_or_after_its_successors_start_is_422(
    client: httpx.AsyncClient,
):
    a, b = await rate_with_later_successor(client)
    r = await client.post(
        f"{F}/{a['id']}/supersede", json={"content": "Day rate 1300", "valid_from": b["valid_from"]}
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["valid_from"]
    assert await listed(client, as_of=b["valid_from"]) == ["Day rate 1400"]


async def test_a_fact_whose_validity_ended_still_cannot_be_superseded(client: httpx.AsyncClient):
    now = datetime.now(UTC)
    a = (
        await client.post(
            F, json={**SLOT, "content": "Day rate 1000", "valid_from": at(now - timedelta(days=60))}
        )
    ).json()["fact"]
    b = await client.post(
        f"{F}/{a['id']}/supersede",
        json={"content": "Day rate 1100", "valid_from": at(now - timedelta(days=30))},
    )
    assert b.status_code == 201, b.text
    r = await client.post(f"{F}/{a['id']}/supersede", json={"content": "Day rate 1050"})
    assert r.status_code == 409, r.text


async def test_the_correction_is_embedded_and_queued_for_zep(
    db_session: AsyncSession, embedder: Embedder
):
    facts = FactService(UnitOfWork(db_session), embedder, Invalidator(LocalCache()), to_zep=True)
    now = datetime.now(UTC)
    slot = {k: v for k, v in SLOT.items()}
    a = (
        await facts.write(
            FactIn(**slot, content="Day rate 1200", valid_from=now - timedelta(days=9))
        )
    ).fact
    b = await facts.supersede(
        a.id, SupersedeIn(content="Day rate 1400", valid_from=now + timedelta(days=9))
    )
    new = await facts.write(FactIn(**slot, content="Day rate 1250"))
    assert new.superseded_id == a.id and new.fact.valid_to == b.fact.valid_from
    queued = await db_session.execute(
        text(
            "SELECT (args->>'fact_id')::bigint FROM procrastinate_jobs "
            "WHERE task_name = 'almanac:zep_fact' ORDER BY id"
        )
    )
    assert list(queued.scalars()) == [a.id, b.fact.id, new.fact.id]
    embedded = set((await db_session.scalars(select(FactEmbedding.fact_id))).all())
    assert embedded == {a.id, b.fact.id, new.fact.id}


async def test_a_memory_of_todays_value_corrects_it_too(client: httpx.AsyncClient):
    """Remember, promoting a memory to a fact, writes through the same path (it was a 422)."""
    a, b = await rate_with_later_successor(client)
    r = await client.post(
        "/api/v1/memory/remember",
        json={"content": "Day rate 1250", "salience_score": 0.9, "metadata": SLOT},
    )
    assert r.status_code == 201, r.text
    fact = (await client.get(f"{F}/{r.json()['promoted_to_fact_id']}")).json()
    assert fact["supersedes_id"] == a["id"] and fact["valid_to"] == b["valid_from"]
    assert await listed(client) == ["Day rate 1250"]
