"""POST /remember and /remember/batch: storage, idempotency, atomicity, promotion."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event, EventEmbedding, Fact
from almanac.state import AppState

R = "/api/v1/memory/remember"


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_remember_stores_with_defaults(client: httpx.AsyncClient, db_session: AsyncSession):
    r = await client.post(R, json={"content": "Prefers deep work before noon"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["duplicate"] is False
    assert body["promoted_to_fact_id"] is None
    # No unread "hot copy" of the event in the cache: Postgres is the one place.
    assert body["stored_in"] == ["postgres"]
    event = await db_session.get(Event, body["id"])
    assert event is not None
    assert event.event_type == "memory" and event.event_source == "user"
    assert event.memory_scope == "session" and event.salience_score == 0.5
    assert event.occurred_at.tzinfo is not None
    vector = await db_session.get(EventEmbedding, body["id"])
    assert vector is not None and vector.model and len(vector.embedding) > 100


async def test_a_plain_memory_reading_as_a_preference_gets_a_hint(client: httpx.AsyncClient):
    """The CLI said so; the REST (and MCP) answers did not: the scheduler reads only
    preference facts, so "No meetings before 10" stored as a memory applies nothing."""
    r = await client.post(R, json={"content": "No meetings before 10", "client_id": 4})
    assert r.status_code == 201, r.text
    hint = r.json()["hint"]
    assert "scheduling preference (nothing before 10:00)" in hint
    assert "fact_type 'preference'" in hint and "/api/v1/memory/facts" in hint
    r = await client.post(R, json={"content": "Invoice Acme on the first of the month"})
    assert r.status_code == 201 and r.json()["hint"] is None
    # Promoted to a preference fact already: it applies, nothing to say.
    meta = {"subject_type": "user", "subject_id": "me", "fact_type": "preference"}
    body = {"content": "Nothing after 6pm", "salience_score": 0.9, "metadata": meta}
    r = await client.post(R, json=body)
    assert r.status_code == 201 and r.json()["promoted_to_fact_id"], r.text
    assert r.json()["hint"] is None
    # A long text is a note, not a preference, and is not read: the rules' lazy patterns
    # take quadratic time (0.8 s of the event loop on 20,000 hostile characters).
    long = "No meetings before 10. " + "Notes from the call. " * 30
    r = await client.post(R, json={"content": long})
    assert r.status_code == 201 and r.json()["hint"] is None


async def test_idempotency_key_returns_first_record(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    body = {"content": "Invoice sent to Acme", "idempotency_key": "inv-1"}
    first = (await client.post(R, json=body)).json()
    second = await client.post(R, json=body)
    # 200, as every other retried create answers (plans, runs, events, sprints): it was 201.
    assert second.status_code == 200
    assert second.json()["id"] == first["id"]
    assert second.json()["duplicate"] is True
    assert await count(db_session, Event) == 1


async def test_idempotency_key_reused_for_other_content_is_409(client: httpx.AsyncClient):
    await client.post(R, json={"content": "one", "idempotency_key": "k"})
    r = await client.post(R, json={"content": "two", "idempotency_key": "k"})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_idempotency_key_reused_for_another_client_is_409_naming_it(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """The same words under a key another client's memory holds answered `duplicate` with
    that memory's id: client 8's memory was never stored, and its recall never found it."""
    body = {"content": "Kickoff call on Monday", "idempotency_key": "call-1", "client_id": 7}
    first = await client.post(R, json=body)
    assert first.status_code == 201, first.text
    r = await client.post(R, json={**body, "client_id": 8})
    assert r.status_code == 409, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["client_id"]
    r = await client.post(R, json={**body, "client_id": 8, "session_id": "s2"})
    assert [e["field"] for e in r.json()["errors"]] == ["client_id", "session_id"]
    # Metadata naming another subject is another memory; a retry stamped with the time it
    # was sent, or other metadata, is the retry it is.
    about = {**body, "idempotency_key": "call-2", "metadata": {"subject_type": "client"}}
    assert (await client.post(R, json=about)).status_code == 201
    r = await client.post(R, json={**about, "metadata": {"subject_type": "person"}})
    assert [e["field"] for e in r.json()["errors"]] == ["metadata"]
    retry = {"occurred_at": "2026-11-02T08:00:00Z", "metadata": {**about["metadata"], "try": 2}}
    r = await client.post(R, json={**about, **retry})
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    assert await count(db_session, Event) == 2


async def test_concurrent_retries_write_once(
    committed_client: httpx.AsyncClient, committed_state: AppState
):
    body = {"content": "Signed the Acme SOW", "idempotency_key": "sow-acme"}
    responses = await asyncio.gather(*(committed_client.post(R, json=body) for _ in range(8)))
    # One created it (201), the others found it (200).
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [201], [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sum(1 for r in responses if not r.json()["duplicate"]) == 1
    async with committed_state.sessionmaker() as s:
        assert await count(s, Event) == 1


async def test_batch_stores_all_in_order(client: httpx.AsyncClient, db_session: AsyncSession):
    items = [{"content": f"note {i}", "session_id": "s1"} for i in range(25)]
    r = await client.post(R + "/batch", json={"items": items})
    assert r.status_code == 201, r.text
    ids = r.json()["ids"]
    assert len(ids) == 25 and ids == sorted(ids)
    rows = (await db_session.scalars(select(Event).where(Event.id.in_(ids)))).all()
    by_id = {e.id: e.content for e in rows}
    assert [by_id[i] for i in ids] == [f"note {i}" for i in range(25)]


async def test_a_retried_batch_is_200_once_nothing_in_it_is_new(client: httpx.AsyncClient):
    items = [{"content": f"call note {i}", "idempotency_key": f"call-{i}"} for i in range(3)]
    first = await client.post(R + "/batch", json={"items": items[:2]})
    assert first.status_code == 201, first.text
    some_new = await client.post(R + "/batch", json={"items": items})
    assert some_new.status_code == 201 and some_new.json()["duplicates"] == [0, 1]
    again = await client.post(R + "/batch", json={"items": items})
    assert again.status_code == 200 and again.json()["duplicates"] == [0, 1, 2]
    assert again.json()["ids"] == some_new.json()["ids"]


async def test_batch_is_all_or_nothing(client: httpx.AsyncClient, db_session: AsyncSession):
    items = [{"content": "fine"}] * 3 + [{"content": ""}]
    r = await client.post(R + "/batch", json={"items": items})
    assert r.status_code == 422
    assert any(e["field"].startswith("items[3]") for e in r.json()["errors"])
    assert await count(db_session, Event) == 0


async def test_batch_failure_late_in_processing_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # The third item passes schema validation but fails a cross-field rule in the service.
    items = [
        {"content": "a"},
        {"content": "b"},
        {
            "content": "c",
            "occurred_at": "2026-01-02T00:00:00Z",
            "expires_at": "2026-01-01T00:00:00Z",
        },
    ]
    r = await client.post(R + "/batch", json={"items": items})
    assert r.status_code == 422
    assert await count(db_session, Event) == 0
    # The refusal names the item, as a schema error does (it said only "expires_at").
    assert [e["field"] for e in r.json()["errors"]] == ["items[2].expires_at"], r.text
    assert r.json()["detail"].startswith("items[2].expires_at: "), r.text
    promoted = {
        "content": "ok",
        "salience_score": 0.9,
        "metadata": {"subject_type": "client", "subject_id": "7", "fact_type": "bogus"},
    }
    r = await client.post(R + "/batch", json={"items": [{"content": "a"}, promoted]})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["items[1].metadata.fact_type"], r.text
    # A single remember names the field alone.
    one = await client.post(R, json=promoted)
    assert [e["field"] for e in one.json()["errors"]] == ["metadata.fact_type"], one.text


async def test_batch_over_limit_rejected(client: httpx.AsyncClient):
    r = await client.post(R + "/batch", json={"items": [{"content": "x"}] * 1001})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "items"


async def test_high_salience_subject_event_promoted_and_linked(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    meta = {
        "subject_type": "user",
        "subject_id": "david",
        "fact_type": "preference",
        "category": "deep_work",
    }
    r = await client.post(
        R, json={"content": "Deep work in the mornings", "salience_score": 0.8, "metadata": meta}
    )
    body = r.json()
    fact = await db_session.get(Fact, body["promoted_to_fact_id"])
    assert fact is not None and fact.source_event_id == body["id"]
    assert fact.content == "Deep work in the mornings" and fact.valid_to is None
    event = await db_session.get(Event, body["id"])
    assert event is not None and event.promoted_to_fact_id == fact.id

    r2 = await client.post(
        R,
        json={
            "content": "Deep work in the afternoons now",
            "salience_score": 0.9,
            "metadata": meta,
        },
    )
    new_fact = await db_session.get(Fact, r2.json()["promoted_to_fact_id"])
    await db_session.refresh(fact)
    assert new_fact is not None and new_fact.supersedes_id == fact.id
    assert fact.valid_to is not None and fact.valid_to == new_fact.valid_from
    current = (
        await db_session.scalars(
            select(Fact).where(Fact.subject_id == "david", Fact.valid_to.is_(None))
        )
    ).all()
    assert [f.id for f in current] == [new_fact.id]


async def test_low_salience_or_no_subject_not_promoted(client: httpx.AsyncClient):
    meta = {"subject_type": "user", "subject_id": "david", "fact_type": "preference"}
    low = await client.post(R, json={"content": "x", "salience_score": 0.69, "metadata": meta})
    assert low.json()["promoted_to_fact_id"] is None
    edge = await client.post(R, json={"content": "y", "salience_score": 0.7, "metadata": meta})
    assert edge.json()["promoted_to_fact_id"] is not None
    nosubj = await client.post(R, json={"content": "z", "salience_score": 0.95})
    assert nosubj.json()["promoted_to_fact_id"] is None


async def test_bad_fact_type_in_metadata_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    meta = {"subject_type": "user", "subject_id": "d", "fact_type": "whim"}
    r = await client.post(R, json={"content": "x", "salience_score": 0.9, "metadata": meta})
    assert r.status_code == 422
    assert await count(db_session, Event) == 0


async def test_a_memory_older_than_its_slots_fact_names_occurred_at(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """A memory that would become a fact starting before the slot's current one is refused
    naming `occurred_at`, the field sent (it named `valid_from`, which remember has not),
    and the fact it would precede; nothing is stored."""
    now = datetime.now(UTC)
    subject = {"subject_type": "client", "subject_id": "9", "fact_type": "identity"}
    current = await client.post(
        "/api/v1/memory/facts",
        json={
            **subject,
            "category": "rate",
            "content": "Rate is 1200",
            "valid_from": (now - timedelta(days=1)).isoformat(),
        },
    )
    assert current.status_code == 201, current.text
    before = await count(db_session, Event)
    r = await client.post(
        R,
        json={
            "content": "Rate was 1100",
            "salience_score": 0.9,
            "occurred_at": (now - timedelta(days=30)).isoformat(),
            "metadata": {**subject, "category": "rate"},
        },
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["occurred_at"]
    assert f"fact {current.json()['fact']['id']}" in r.json()["detail"]
    assert await count(db_session, Event) == before
