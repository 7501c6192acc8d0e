"""GET /recall: hybrid relevance, filters in SQL, expiry, facts by validity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event

R = "/api/v1/memory/remember"
Q = "/api/v1/memory/recall"


async def remember(client: httpx.AsyncClient, content: str, **kw: object) -> int:
    r = await client.post(R, json={"content": content, **kw})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def recall(client: httpx.AsyncClient, query: str, **params: object) -> dict:
    r = await client.get(Q, params={"query": query, **params})
    assert r.status_code == 200, r.text
    return r.json()


async def test_semantic_match_without_shared_words(client: httpx.AsyncClient):
    target = await remember(client, "My dog Biscuit needs a walk every evening")
    await remember(client, "Quarterly tax filing is due in January")
    await remember(client, "The client prefers invoices in euros")
    out = await recall(client, "puppy exercise", k=1)
    assert [r["id"] for r in out["results"]] == [target]
    assert out["results"][0]["kind"] == "event" and out["results"][0]["source"] == "postgres"


async def test_exact_rare_word_found_by_full_text(client: httpx.AsyncClient):
    for i in range(20):
        await remember(client, f"Routine status update number {i} about the website project")
    target = await remember(client, "Discussed the Zanzibar retainer pricing with Priya")
    out = await recall(client, "Zanzibar", k=3)
    assert out["results"][0]["id"] == target


async def test_response_shape_and_metadata_returned_as_stored(client: httpx.AsyncClient):
    meta = {"dia_id": "D1:3", "nested": {"a": [1, 2]}}
    when = "2023-05-08T13:56:00+00:00"
    eid = await remember(
        client,
        "Went to a support group yesterday",
        metadata=meta,
        occurred_at=when,
        session_id="s-1",
    )
    out = await recall(client, "support group", k=5)
    assert set(out) == {
        "query",
        "results",
        "cached",
        "took_ms",
        "zep",
        "degraded",
        "detail",
        "no_match",
    }
    assert out["zep"] == "off" and out["degraded"] is False
    hit = next(r for r in out["results"] if r["id"] == eid)
    assert hit["metadata"] == meta
    assert hit["session_id"] == "s-1"
    assert datetime.fromisoformat(hit["occurred_at"]) == datetime.fromisoformat(when)
    assert set(hit) == {
        "id",
        "kind",
        "content",
        "score",
        "source",
        "occurred_at",
        "session_id",
        "metadata",
        "ref",
        "relevance",
    }
    assert hit["source"] == "postgres" and hit["ref"] is None
    assert 0.5 <= hit["relevance"] <= 1


async def test_filters_are_applied(client: httpx.AsyncClient):
    a = await remember(
        client,
        "Budget review with finance",
        session_id="a",
        client_id=1,
        event_type="meeting",
        memory_scope="project",
    )
    b = await remember(
        client,
        "Budget review with finance team",
        session_id="b",
        client_id=2,
        event_type="note",
        memory_scope="user",
    )
    assert [r["id"] for r in (await recall(client, "budget", session_id="a"))["results"]] == [a]
    assert [r["id"] for r in (await recall(client, "budget", client_id=2))["results"]] == [b]
    assert [r["id"] for r in (await recall(client, "budget", event_type="meeting"))["results"]] == [
        a
    ]
    assert [r["id"] for r in (await recall(client, "budget", memory_scope="user"))["results"]] == [
        b
    ]


async def test_time_window_filters(client: httpx.AsyncClient):
    old = await remember(client, "Kickoff call with Acme", occurred_at="2026-01-10T10:00:00Z")
    new = await remember(client, "Kickoff call with Acme again", occurred_at="2026-06-10T10:00:00Z")
    since = await recall(client, "kickoff", since="2026-03-01T00:00:00Z")
    assert [r["id"] for r in since["results"]] == [new]
    until = await recall(client, "kickoff", until="2026-03-01T00:00:00+01:00")
    assert [r["id"] for r in until["results"]] == [old]


async def test_expired_memories_never_returned(client: httpx.AsyncClient, db_session: AsyncSession):
    soon = datetime.now(UTC) + timedelta(hours=1)
    temporary = await remember(client, "Temporary door code is 4821", expires_at=soon.isoformat())
    live = await remember(client, "Permanent door code is 1234")
    # Time passes: the hour is over (an expiry already past is refused at remember).
    past = datetime.now(UTC) - timedelta(hours=1)
    await db_session.execute(update(Event).where(Event.id == temporary).values(expires_at=past))
    out = await recall(client, "door code")
    assert [r["id"] for r in out["results"]] == [live]
    gone = await client.get(f"/api/v1/memory/events/{temporary}")
    assert gone.status_code == 404


async def test_kinds_and_facts_as_of(client: httpx.AsyncClient):
    base = {
        "subject_type": "user",
        "subject_id": "david",
        "fact_type": "preference",
        "category": "rate",
    }
    first = await client.post(
        "/api/v1/memory/facts",
        json={**base, "content": "Day rate is 800 EUR", "valid_from": "2026-01-01T00:00:00Z"},
    )
    assert first.status_code == 201
    second = await client.post(
        "/api/v1/memory/facts",
        json={**base, "content": "Day rate is 950 EUR", "valid_from": "2026-07-01T00:00:00Z"},
    )
    assert second.json()["superseded_id"] == first.json()["fact"]["id"]
    await remember(client, "Talked about the day rate with a prospect")

    facts_now = await recall(client, "day rate", kinds="fact")
    assert [r["content"] for r in facts_now["results"]] == ["Day rate is 950 EUR"]
    march = await recall(client, "day rate", kinds="fact", as_of="2026-03-01T00:00:00Z")
    assert [r["content"] for r in march["results"]] == ["Day rate is 800 EUR"]
    both = await recall(client, "day rate")
    assert {r["kind"] for r in both["results"]} == {"event", "fact"}
    events_only = await recall(client, "day rate", kinds="event")
    assert {r["kind"] for r in events_only["results"]} == {"event"}


async def test_kinds_may_be_comma_separated(client: httpx.AsyncClient):
    # `kinds=event,fact` (as `tags` and the CLI's lists are written) was a 422 saying
    # "kinds[0]: Input should be 'event', 'fact' or 'document'", naming neither.
    await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "user",
            "subject_id": "david",
            "fact_type": "preference",
            "content": "Day rate is 950 EUR",
        },
    )
    await remember(client, "Talked about the day rate with a prospect")
    await client.post("/api/v1/memory/documents", files={"file": ("r.md", b"# Day rate\n\n950")})
    both = await recall(client, "day rate", kinds="event, fact", floor="false")
    assert {r["kind"] for r in both["results"]} == {"event", "fact"}
    r = await client.get(Q, params={"query": "day rate", "kinds": "event,facts"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "kinds[1]"  # the second of those given


async def test_k_limits_results(client: httpx.AsyncClient):
    for i in range(12):
        await remember(client, f"Meeting note {i} about the roadmap")
    out = await recall(client, "roadmap meeting", k=5)
    assert len(out["results"]) == 5
    scores = [r["score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True)


async def test_vector_search_can_use_the_models_hnsw_index(db_session, embedder):
    """The query repeats the index's expression and predicate literally; a drift would
    silently turn every recall into a sequential scan."""
    from sqlalchemy import text

    from almanac.config import SearchSettings
    from almanac.db.vector_indexes import index_name
    from almanac.memory.search_sql import EventFilters, event_where, fused_sql

    settings = SearchSettings()
    params: dict = {
        "qvec": "[" + ",".join(["0.05"] * embedder.dim) + "]",
        "n": 10,
        "pool": 10,
        "avgdl": 5.0,
        "rrf_k": 60,
        "w_vec": 1.0,
        "w_txt": 1.0,
        "w_sal": 0.1,
        "w_rec": 0.1,
        "half_life": 30.0,
        "bm25_k1": 1.2,
        "bm25_b": 0.75,
    }
    where = event_where(EventFilters(), params)
    sql = fused_sql("events", where, embedder.model, embedder.dim, settings, [], params)
    await db_session.execute(text("SET LOCAL enable_seqscan = off"))
    # On a near-empty table, reading every live id from idx_events_client_live (an
    # index-only scan) and sorting is cheaper than the HNSW scan's start-up cost.
    await db_session.execute(text("SET LOCAL enable_indexonlyscan = off"))
    # And joining every embedding by its key then sorting by distance can look cheaper
    # still on a few rows; without sorts, the distance order must come from the index.
    await db_session.execute(text("SET LOCAL enable_sort = off"))
    plan = "\n".join(r[0] for r in await db_session.execute(text("EXPLAIN " + sql), params))
    assert index_name("event_embeddings", embedder.model) in plan


async def test_promoted_event_is_shown_once_as_its_fact(client: httpx.AsyncClient):
    meta = {"subject_type": "user", "subject_id": "me", "fact_type": "preference"}
    r = await client.post(
        R,
        json={"content": "Prefers deep work before noon", "salience_score": 0.8, "metadata": meta},
    )
    fact_id = r.json()["promoted_to_fact_id"]
    other = await remember(client, "Deep work block booked for Tuesday")
    out = await recall(client, "deep work")
    kinds_ids = [(h["kind"], h["id"]) for h in out["results"]]
    assert ("fact", fact_id) in kinds_ids and ("event", other) in kinds_ids
    assert ("event", r.json()["id"]) not in kinds_ids
    # Asking for events only still finds the event itself.
    events = await recall(client, "deep work", kinds="event")
    assert r.json()["id"] in [h["id"] for h in events["results"]]


async def test_a_time_window_holds_for_every_kind_asked(client: httpx.AsyncClient):
    """since/until filtered memories only: with kinds fact or document, a fact that became
    true in March and a document added today came back for a window ending in 2001."""
    fact = {
        "subject_type": "client",
        "subject_id": "4",
        "fact_type": "constraint",
        "content": "Day rate for Initech is 900 EUR",
        "valid_from": "2026-03-01T00:00:00+00:00",
    }
    assert (await client.post("/api/v1/memory/facts", json=fact)).status_code == 201
    doc = b"# Initech rates\n\nThe day rate for Initech is 900 EUR, invoiced monthly.\n"
    r = await client.post("/api/v1/memory/documents", files={"file": ("rates.md", doc)})
    assert r.status_code == 201, r.text
    both = ["fact", "document"]
    old = await recall(client, "Initech day rate", kinds=both, until="2001-01-01T00:00:00Z")
    assert old["results"] == []
    march = {"since": "2026-02-01T00:00:00Z", "until": "2026-03-31T00:00:00Z"}
    hits = (await recall(client, "Initech day rate", kinds=both, **march))["results"]
    assert [h["kind"] for h in hits] == ["fact"]
    today = datetime.now(UTC) - timedelta(hours=1)
    hits = (await recall(client, "Initech day rate", kinds=both, since=today.isoformat()))[
        "results"
    ]
    assert {h["kind"] for h in hits} == {"document"}
    for h in hits:
        assert datetime.fromisoformat(h["occurred_at"]) >= today


async def test_an_invisible_mark_pasted_into_the_query_does_not_split_its_words(
    client: httpx.AsyncClient,
):
    """ "budget\\u200b" (a zero-width space pasted along) found nothing where "budget" found
    the memory: the mark made the word another word for the full-text search."""
    target = await remember(client, "The quarterly budget review moved to Thursday")
    await remember(client, "Dinner with my sister on Saturday")
    for query in ("budget\u200b", "bud\u200bget", "bud\u00adget", "\ufeffbudget\u2060"):
        out = await recall(client, query, kinds="event", k=1)
        assert [r["id"] for r in out["results"]] == [target], (query, out)
    # Only marks: nothing to search, said so.
    out = await recall(client, "\u200b\u200e")
    assert out["no_match"] is True and "nothing was searched" in out["detail"]
