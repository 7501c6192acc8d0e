"""Facts: bi-temporal supersession, as_of, history, deletion and forgetting a subject."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import LocalCache
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.facts import FactService
from almanac.memory.invalidation import Invalidator
from almanac.memory.schemas import FactIn, SupersedeIn
from almanac.models import Event, Fact, FactEmbedding

F = "/api/v1/memory/facts"
BASE = {"subject_type": "client", "subject_id": "acme", "fact_type": "constraint"}


async def test_supersede_closes_old_and_opens_new(client: httpx.AsyncClient):
    old = (
        await client.post(
            F, json={**BASE, "content": "Budget cap 10k", "valid_from": "2026-01-01T00:00:00Z"}
        )
    ).json()["fact"]
    r = await client.post(
        f"{F}/{old['id']}/supersede",
        json={"content": "Budget cap 15k", "valid_from": "2026-05-01T00:00:00Z"},
    )
    assert r.status_code == 201, r.text
    new = r.json()["fact"]
    assert r.json()["superseded_id"] == old["id"]
    assert new["supersedes_id"] == old["id"] and new["current"] is True

    current = (await client.get(F, params={"subject_type": "client", "subject_id": "acme"})).json()
    assert [f["content"] for f in current] == ["Budget cap 15k"]
    april = (
        await client.get(F, params={"subject_id": "acme", "as_of": "2026-04-30T23:59:59Z"})
    ).json()
    assert [f["content"] for f in april] == ["Budget cap 10k"]
    boundary = (
        await client.get(F, params={"subject_id": "acme", "as_of": "2026-05-01T00:00:00Z"})
    ).json()
    assert [f["content"] for f in boundary] == ["Budget cap 15k"]
    before = (
        await client.get(F, params={"subject_id": "acme", "as_of": "2025-12-31T00:00:00Z"})
    ).json()
    assert before == []
    history = (await client.get(F, params={"subject_id": "acme", "include_history": True})).json()
    assert [(f["content"], f["current"]) for f in history] == [
        ("Budget cap 15k", True),
        ("Budget cap 10k", False),
    ]
    closed = history[1]
    assert closed["valid_to"] == new["valid_from"]


async def test_a_superseding_fact_is_embedded_like_any_other(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """The one supersession (FactService.supersede) embeds the successor, so recall sees it."""
    old = (await client.post(F, json={**BASE, "content": "Invoices go out monthly"})).json()
    r = await client.post(
        f"{F}/{old['fact']['id']}/supersede", json={"content": "Invoices go out every fortnight"}
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["fact"]["id"]
    embedded = await db_session.scalar(
        select(func.count()).select_from(FactEmbedding).where(FactEmbedding.fact_id == new_id)
    )
    assert embedded == 1


async def test_supersede_twice_is_409(client: httpx.AsyncClient):
    old = (await client.post(F, json={**BASE, "content": "a"})).json()["fact"]
    assert (
        await client.post(f"{F}/{old['id']}/supersede", json={"content": "b"})
    ).status_code == 201
    again = await client.post(f"{F}/{old['id']}/supersede", json={"content": "c"})
    assert again.status_code == 409
    assert [e["field"] for e in again.json()["errors"]] == ["fact_id"]


async def test_supersede_backwards_in_time_is_422(client: httpx.AsyncClient):
    old = (
        await client.post(F, json={**BASE, "content": "a", "valid_from": "2026-06-01T00:00:00Z"})
    ).json()["fact"]
    r = await client.post(
        f"{F}/{old['id']}/supersede", json={"content": "b", "valid_from": "2026-01-01T00:00:00Z"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "valid_from"


async def test_same_slot_with_category_supersedes_without_category_accumulates(
    client: httpx.AsyncClient,
):
    u = {"subject_type": "user", "subject_id": "d", "fact_type": "preference"}
    await client.post(F, json={**u, "content": "Mornings for deep work"})
    await client.post(F, json={**u, "content": "No calls on Fridays"})
    assert len((await client.get(F, params={"subject_id": "d"})).json()) == 2
    await client.post(F, json={**u, "category": "lunch", "content": "Lunch at 12"})
    r = await client.post(F, json={**u, "category": "lunch", "content": "Lunch at 13"})
    assert r.json()["superseded_id"] is not None
    current = (await client.get(F, params={"subject_id": "d"})).json()
    assert sorted(f["content"] for f in current) == [
        "Lunch at 13",
        "Mornings for deep work",
        "No calls on Fridays",
    ]


async def test_exact_duplicate_fact_is_not_added(client: httpx.AsyncClient):
    a = await client.post(F, json={**BASE, "content": "Pays  net 30"})
    b = await client.post(F, json={**BASE, "content": "pays net 30"})
    assert (a.status_code, b.status_code) == (201, 200)  # nothing created: it was 201
    assert b.json()["duplicate"] is True
    assert b.json()["fact"]["id"] == a.json()["fact"]["id"]


async def test_forget_subject_removes_events_facts_and_reports(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    meta = {"subject_type": "client", "subject_id": "acme", "fact_type": "identity"}
    await client.post(
        "/api/v1/memory/remember",
        json={"content": "Acme is a Berlin agency", "salience_score": 0.9, "metadata": meta},
    )
    await client.post(
        "/api/v1/memory/remember", json={"content": "Acme call notes", "metadata": meta}
    )
    await client.post(F, json={**BASE, "content": "Acme needs NDAs"})
    keep = await client.post("/api/v1/memory/remember", json={"content": "Unrelated memory"})
    r = await client.delete("/api/v1/memory/subjects/client/acme")
    assert r.status_code == 200
    out = r.json()
    assert out.pop("deleted")["facts"] == 2
    assert out == {
        "subject_type": "client",
        "subject_id": "acme",
        "events_deleted": 2,
        "facts_deleted": 2,
        "documents_deleted": 0,
        "cache_invalidated": True,
        "zep": "off",
        "zep_detail": None,
        "pending": {},  # every store answered
    }
    assert await db_session.scalar(select(func.count()).select_from(Fact)) == 0
    remaining = (await db_session.scalars(select(Event.id))).all()
    assert remaining == [keep.json()["id"]]
    out = (await client.get("/api/v1/memory/recall", params={"query": "Acme"})).json()
    assert all("Acme" not in h["content"] for h in out["results"])


async def test_delete_event_keeps_promoted_fact(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    meta = {"subject_type": "user", "subject_id": "d", "fact_type": "identity"}
    r = (
        await client.post(
            "/api/v1/memory/remember",
            json={"content": "Based in Lisbon", "salience_score": 0.8, "metadata": meta},
        )
    ).json()
    assert (await client.delete(f"/api/v1/memory/events/{r['id']}")).status_code == 200
    fact = await db_session.get(Fact, r["promoted_to_fact_id"])
    assert fact is not None
    await db_session.refresh(fact)
    assert fact.source_event_id is None
    assert (await client.get(f"/api/v1/memory/events/{r['id']}")).status_code == 404


async def test_concurrent_identical_facts_make_one(committed_client: httpx.AsyncClient):
    """Retries racing each other (an empty slot has no row to lock) store one fact."""
    for extra in ({}, {"category": "budget"}):
        body = {**BASE, "subject_id": f"race{len(extra)}", "content": "No calls on Friday", **extra}
        answers = await asyncio.gather(*(committed_client.post(F, json=body) for _ in range(8)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200] * 7 + [201], [r.text for r in answers]
        assert len({r.json()["fact"]["id"] for r in answers}) == 1
        assert sum(not r.json()["duplicate"] for r in answers) == 1
        listed = await committed_client.get(F, params={"subject_id": body["subject_id"]})
        assert len(listed.json()) == 1


async def test_supersede_queues_its_successor_for_zep_and_a_duplicate_adds_nothing(
    db_session: AsyncSession, embedder: Embedder
):
    """write and supersede share one path (FactService._replace): the successor is embedded
    and queued for Zep like any new fact; superseding by a statement the slot already holds
    closes the old fact and adds no row, vector or Zep job."""
    facts = FactService(UnitOfWork(db_session), embedder, Invalidator(LocalCache()), to_zep=True)
    slot = {"subject_type": "client", "subject_id": "zepq", "fact_type": "preference"}
    first = (await facts.write(FactIn(**slot, content="Calls in the morning"))).fact
    other = (await facts.write(FactIn(**slot, content="No calls on Friday"))).fact

    async def queued() -> list[int]:
        rows = await db_session.execute(
            text(
                "SELECT (args->>'fact_id')::bigint FROM procrastinate_jobs "
                "WHERE task_name = 'almanac:zep_fact' ORDER BY id"
            )
        )
        return list(rows.scalars())

    async def embedded() -> set[int]:
        return set((await db_session.scalars(select(FactEmbedding.fact_id))).all())

    new = await facts.supersede(first.id, SupersedeIn(content="Calls after lunch"))
    assert not new.duplicate and new.superseded_id == first.id
    assert new.fact.supersedes_id == first.id
    assert await queued() == [first.id, other.id, new.fact.id]
    assert await embedded() == {first.id, other.id, new.fact.id}

    same = await facts.supersede(new.fact.id, SupersedeIn(content="no calls on  friday"))
    assert same.duplicate and same.fact.id == other.id and same.superseded_id == new.fact.id
    assert await queued() == [first.id, other.id, new.fact.id]
    assert await embedded() == {first.id, other.id, new.fact.id}
    closed = await db_session.get(Fact, new.fact.id)
    assert closed is not None
    await db_session.refresh(closed)
    assert closed.valid_to is not None


async def test_a_successor_dated_later_leaves_its_predecessor_current_until_then(
    client: httpx.AsyncClient,
):
    """Superseded with a later `valid_from` (a new rate from next month), the old fact is
    still the true one today: the listing, its `current` flag and recall say so."""
    now = datetime.now(UTC)
    body = {**BASE, "subject_id": "globex", "category": "rate"}
    old = (
        await client.post(
            F,
            json={
                **body,
                "content": "Globex day rate is 1200 EUR",
                "valid_from": (now - timedelta(days=30)).isoformat(),
            },
        )
    ).json()["fact"]
    later = (now + timedelta(days=30)).isoformat()
    r = await client.post(
        f"{F}/{old['id']}/supersede",
        json={"content": "Globex day rate is 1400 EUR", "valid_from": later},
    )
    assert r.status_code == 201, r.text
    assert r.json()["fact"]["current"] is False

    listed = (await client.get(F, params={"subject_id": "globex"})).json()
    assert [(f["content"], f["current"]) for f in listed] == [("Globex day rate is 1200 EUR", True)]
    then = (await client.get(F, params={"subject_id": "globex", "as_of": later})).json()
    assert [f["content"] for f in then] == ["Globex day rate is 1400 EUR"]
    recall = await client.get(
        "/api/v1/memory/recall",
        params={"query": "Globex day rate", "kinds": "fact", "floor": "false"},
    )
    assert [h["content"] for h in recall.json()["results"]] == ["Globex day rate is 1200 EUR"]


async def test_superseding_a_closed_fact_says_when_to_the_minute(client: httpx.AsyncClient):
    """The 409 quoted the close to the microsecond: "closed at 2026-12-04 07:12:44.992016+00:00"."""
    import re

    a = await client.post(F, json={**BASE, "content": "Pays net 30"})
    first = a.json()["fact"]["id"]
    assert (
        await client.post(f"{F}/{first}/supersede", json={"content": "Pays net 45"})
    ).status_code == 201
    r = await client.post(f"{F}/{first}/supersede", json={"content": "Pays net 60"})
    assert r.status_code == 409, r.text
    assert re.search(r"closed at \d{4}-\d\d-\d\dT\d\d:\d\d\+00:00$", r.json()["detail"]), r.text


async def test_a_fact_before_its_slots_first_says_how_to_record_it(client: httpx.AsyncClient):
    """ "Globex's contact was Frank" from October, after "Eve" from November was recorded:
    refused with only "no fact of its slot was valid then". It says how, and that works."""
    body = {**BASE, "subject_id": "globex-contact", "fact_type": "identity", "category": "contact"}
    nov, oct_ = "2026-11-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00"
    eve = await client.post(
        F, json={**body, "content": "Globex's contact is Eve", "valid_from": nov}
    )
    assert eve.status_code == 201, eve.text
    eve_id = eve.json()["fact"]["id"]
    frank = {**body, "content": "Globex's contact was Frank", "valid_from": oct_}
    r = await client.post(F, json=frank)
    assert r.status_code == 422, r.text
    said = r.json()["errors"][0]
    assert said["field"] == "valid_from"
    assert f"DELETE /api/v1/memory/facts/{eve_id}" in said["message"], said
    # As it says: delete, add the earlier one, then the later one again.
    assert (await client.delete(f"{F}/{eve_id}")).status_code == 200
    assert (await client.post(F, json=frank)).status_code == 201
    again = {**body, "content": "Globex's contact is Eve", "valid_from": nov}
    assert (await client.post(F, json=again)).status_code == 201
    history = (
        await client.get(F, params={"subject_id": "globex-contact", "include_history": "true"})
    ).json()
    assert [(f["content"], f["current"]) for f in history] == [
        ("Globex's contact is Eve", True),
        ("Globex's contact was Frank", False),
    ]
