"""A fact restated from earlier than the slot's later-dated version of it ("150 from now"
when "150 from next month" is held) holds from then: that version starts earlier and the
one valid then ends then, so the slot keeps one fact at any instant, one row a statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import LocalCache
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.facts import FactService
from almanac.memory.invalidation import Invalidator
from almanac.memory.schemas import FactIn

F = "/api/v1/memory/facts"
RATE = {"subject_type": "client", "subject_id": "umbra", "fact_type": "identity"}
SLOT = {**RATE, "category": "rate"}


def at(moment: datetime) -> str:
    return moment.isoformat()


async def post(client: httpx.AsyncClient, path: str = F, **body: Any) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


async def history(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get(F, params={"subject_id": "umbra", "include_history": True})
    assert r.status_code == 200, r.text
    return sorted(r.json(), key=lambda f: f["valid_from"])


async def current(client: httpx.AsyncClient) -> list[str]:
    r = await client.get(F, params={"subject_id": "umbra"})
    return [f["content"] for f in r.json()]


def one_chain(versions: list[dict[str, Any]]) -> None:
    """Each version ends where the next starts; only the last is open."""
    for prev, nxt in zip(versions, versions[1:], strict=False):
        assert prev["valid_to"] == nxt["valid_from"], (prev, nxt)
    assert [f["valid_to"] is None for f in versions][-1] is True
    assert sum(f["valid_to"] is None for f in versions) == 1


async def rate_now_and_next_month(
    client: httpx.AsyncClient,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """'Rate 120' from a month ago, then 'Rate 150' from a month ahead: the two facts."""
    now = datetime.now(UTC)
    a = await post(client, **SLOT, content="Rate 120", valid_from=at(now - timedelta(days=30)))
    b = await post(client, **SLOT, content="Rate 150", valid_from=at(now + timedelta(days=30)))
    return a["fact"], b["fact"]


async def test_restating_the_later_dated_value_from_now_makes_it_valid_now(
    client: httpx.AsyncClient,
):
    a, b = await rate_now_and_next_month(client)
    assert await current(client) == ["Rate 120"]
    before = datetime.now(UTC)
    r = await post(client, **SLOT, content="rate  150")  # from now
    after = datetime.now(UTC)
    assert r["duplicate"] is True and r["fact"]["id"] == b["id"]
    assert r["superseded_id"] == a["id"]
    assert before <= datetime.fromisoformat(r["fact"]["valid_from"]) <= after
    assert r["fact"]["current"] is True
    assert await current(client) == ["Rate 150"]
    versions = await history(client)
    assert [f["id"] for f in versions] == [a["id"], b["id"]]
    one_chain(versions)
    recall = await client.get(
        "/api/v1/memory/recall", params={"query": "Rate", "kinds": "fact", "floor": "false"}
    )
    assert [h["content"] for h in recall.json()["results"]] == ["Rate 150"]


async def test_restated_through_supersede_the_later_version_starts_earlier(
    client: httpx.AsyncClient,
):
    a, b = await rate_now_and_next_month(client)
    r = await post(client, f"{F}/{a['id']}/supersede", content="Rate 150")
    assert r["fact"]["id"] == b["id"] and r["superseded_id"] == a["id"]
    assert await current(client) == ["Rate 150"]
    versions = await history(client)
    assert [f["id"] for f in versions] == [a["id"], b["id"]]
    one_chain(versions)


async def test_a_closed_later_version_saying_the_same_starts_earlier_rather_than_a_copy(
    client: httpx.AsyncClient,
):
    """120 (now), 150 (+10 d), 170 (+30 d): "150 from now" moves 150's start to now."""
    now = datetime.now(UTC)
    a = (await post(client, **SLOT, content="Rate 120", valid_from=at(now - timedelta(days=30))))[
        "fact"
    ]
    b = (await post(client, **SLOT, content="Rate 150", valid_from=at(now + timedelta(days=10))))[
        "fact"
    ]
    await post(client, **SLOT, content="Rate 170", valid_from=at(now + timedelta(days=30)))
    r = await post(client, **SLOT, content="Rate 150")
    assert r["fact"]["id"] == b["id"] and r["superseded_id"] == a["id"]
    versions = await history(client)
    assert [f["content"] for f in versions] == ["Rate 120", "Rate 150", "Rate 170"]
    one_chain(versions)
    assert await current(client) == ["Rate 150"]


async def test_with_another_version_between_the_statement_goes_between(
    client: httpx.AsyncClient,
):
    """120 (now), 130 (+10 d), 150 (+30 d): "150 from now" cannot move the +30 d one over
    130; it holds from now until 130 starts."""
    now = datetime.now(UTC)
    await post(client, **SLOT, content="Rate 120", valid_from=at(now - timedelta(days=30)))
    await post(client, **SLOT, content="Rate 130", valid_from=at(now + timedelta(days=10)))
    await post(client, **SLOT, content="Rate 150", valid_from=at(now + timedelta(days=30)))
    r = await post(client, **SLOT, content="Rate 150")
    assert r["duplicate"] is False
    versions = await history(client)
    assert [f["content"] for f in versions] == ["Rate 120", "Rate 150", "Rate 130", "Rate 150"]
    one_chain(versions)
    assert await current(client) == ["Rate 150"]


async def test_a_statement_without_a_category_restated_from_now_holds_now(
    client: httpx.AsyncClient,
):
    now = datetime.now(UTC)
    soon = now + timedelta(days=7)
    b = (await post(client, **RATE, content="No calls on Fridays", valid_from=at(soon)))["fact"]
    assert await current(client) == []
    r = await post(client, **RATE, content="No calls on Fridays")
    assert r["fact"]["id"] == b["id"] and r["fact"]["current"] is True
    assert await current(client) == ["No calls on Fridays"]
    assert len(await history(client)) == 1
    # Restated from later than it holds: a duplicate, its start kept.
    again = await post(client, **RATE, content="No calls on Fridays", valid_from=at(soon))
    assert again["fact"]["valid_from"] == r["fact"]["valid_from"]


async def test_a_memory_stating_the_later_value_now_makes_it_valid_now(
    client: httpx.AsyncClient,
):
    """Remember promotes a memory to a fact from when it occurred: the same path."""
    now = datetime.now(UTC)
    await post(client, **SLOT, content="Rate 120", valid_from=at(now - timedelta(days=30)))
    b = (await post(client, **SLOT, content="Rate 150", valid_from=at(now + timedelta(days=30))))[
        "fact"
    ]
    r = await post(
        client, "/api/v1/memory/remember", content="Rate 150", salience_score=0.9, metadata=SLOT
    )
    assert r["promoted_to_fact_id"] == b["id"]
    assert await current(client) == ["Rate 150"]


async def test_an_undated_fact_the_observer_proposes_moves_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, embedder: Embedder
):
    """The Observer's extraction has no date: its "now" is when it learnt the fact, so
    next month's value it read again in a memory stays next month's."""
    now = datetime.now(UTC)
    await post(client, **SLOT, content="Rate 120", valid_from=at(now - timedelta(days=30)))
    b = (await post(client, **SLOT, content="Rate 150", valid_from=at(now + timedelta(days=30))))[
        "fact"
    ]
    memory = await post(
        client, "/api/v1/memory/remember", content="Rate 150 from next month", salience_score=0.3
    )
    facts = FactService(UnitOfWork(db_session), embedder, Invalidator(LocalCache()))
    slot = {k: v for k, v in SLOT.items()}
    observed = FactIn(**slot, content="Rate 150", metadata={"source": "observer:llm"})
    r = await facts.write(observed, source_event_id=memory["id"])
    assert r.duplicate is True and r.fact.id == b["id"]
    assert r.fact.valid_from == datetime.fromisoformat(b["valid_from"])
    assert await current(client) == ["Rate 120"]
