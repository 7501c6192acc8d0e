"""Bad input: a clear 4xx problem body naming the field, and nothing written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event, Fact

R = "/api/v1/memory/remember"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * 20_001}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "\u0085\u2028\t"}, "content"),
        ({}, "content"),
        ({"content": "x", "memory_scope": "forever"}, "memory_scope"),
        ({"content": "x", "salience_score": 1.5}, "salience_score"),
        ({"content": "x", "salience_score": "high"}, "salience_score"),
        ({"content": "x", "occurred_at": "2026-11-22T10:00:00"}, "occurred_at"),
        ({"content": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"content": "x", "metadata": ["not", "an", "object"]}, "metadata"),
        ({"content": "x", "surprise": 1}, "surprise"),
        ({"content": "x", "client_id": "acme"}, "client_id"),
        # Keys of only whitespace were stored as keys (text of it was already refused).
        ({"content": "x", "session_id": "   "}, "session_id"),
        ({"content": "x", "idempotency_key": " \t"}, "idempotency_key"),
    ],
)
async def test_remember_rejects(
    client: httpx.AsyncClient, db_session: AsyncSession, body: dict, field: str
):
    r = await client.post(R, json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 422 and problem["title"]
    assert any(e["field"] == field for e in problem["errors"]), problem
    assert await db_session.scalar(select(func.count()).select_from(Event)) == 0


async def test_malformed_json_is_400(client: httpx.AsyncClient, db_session: AsyncSession):
    r = await client.post(
        R, content=b'{"content": "x",', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["title"] == "Malformed JSON"
    assert await db_session.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": 101}, "k"),
        ({"query": ""}, "query"),
        ({}, "query"),
        ({"query": "x", "memory_scope": "nope"}, "memory_scope"),
        ({"query": "x", "since": "2026-11-22T10:00:00"}, "since"),
        ({"query": "x", "as_of": "2026-11-22T10:00:00"}, "as_of"),
        ({"query": "x", "kinds": "memes"}, "kinds[0]"),
        # A query parameter's problem names it: "body" named no field a GET sends.
        ({"query": "   "}, "query"),
        ({"query": "x", "since": "2026-11-22T10:00:00Z", "until": "2026-11-01T10:00:00Z"}, "until"),
    ],
)
async def test_recall_rejects(client: httpx.AsyncClient, params: dict, field: str):
    r = await client.get("/api/v1/memory/recall", params=params)
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["errors"]), r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"subject_type": "user", "subject_id": "d", "fact_type": "mood", "content": "x"},
            "fact_type",
        ),
        (
            {"subject_type": "user", "subject_id": "", "fact_type": "preference", "content": "x"},
            "subject_id",
        ),
        (
            {
                "subject_type": "user",
                "subject_id": "d",
                "fact_type": "preference",
                "content": "x",
                "valid_from": "2026-01-01T00:00:00",
            },
            "valid_from",
        ),
        # Blank text was a fact (remember refused it): the scheduler and context read it.
        (
            {"subject_type": "user", "subject_id": "d", "fact_type": "preference", "content": " "},
            "content",
        ),
        (
            {"subject_type": " ", "subject_id": "d", "fact_type": "preference", "content": "x"},
            "subject_type",
        ),
        (
            {"subject_type": "user", "subject_id": "\t", "fact_type": "preference", "content": "x"},
            "subject_id",
        ),
    ],
)
async def test_fact_rejects(
    client: httpx.AsyncClient, db_session: AsyncSession, body: dict, field: str
):
    r = await client.post("/api/v1/memory/facts", json=body)
    assert r.status_code == 422
    assert any(e["field"] == field for e in r.json()["errors"])
    assert await db_session.scalar(select(func.count()).select_from(Fact)) == 0


async def test_a_blank_successor_does_not_replace_a_fact(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """Superseding with blank text closed a client's preference and put nothing in its
    place: a 422 naming `content`, and the fact stays current."""
    body = {
        "subject_type": "client",
        "subject_id": "7",
        "fact_type": "preference",
        "content": "No calls before 10",
        "client_id": 7,
    }
    fact = (await client.post("/api/v1/memory/facts", json=body)).json()["fact"]
    r = await client.post(f"/api/v1/memory/facts/{fact['id']}/supersede", json={"content": "  "})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["content"]
    current = await client.get("/api/v1/memory/facts", params={"subject_id": "7"})
    assert [(f["id"], f["valid_to"]) for f in current.json()] == [(fact["id"], None)]
    assert await db_session.scalar(select(func.count()).select_from(Fact)) == 1


async def test_as_of_with_the_whole_history_is_a_422_naming_it(client: httpx.AsyncClient):
    """`as_of` beside `include_history=true` was ignored: every version came back, as if
    those valid at that time."""
    body = {"subject_type": "user", "subject_id": "me", "fact_type": "identity"}
    await client.post("/api/v1/memory/facts", json={**body, "content": "Works from Lyon"})
    params = {"include_history": "true", "as_of": "2001-01-01T00:00:00Z"}
    r = await client.get("/api/v1/memory/facts", params=params)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["as_of"]
    params["include_history"] = "false"
    assert (await client.get("/api/v1/memory/facts", params=params)).json() == []
    del params["as_of"]
    r = await client.get("/api/v1/memory/facts", params={"include_history": "true"})
    assert [f["content"] for f in r.json()] == ["Works from Lyon"]


async def test_unknown_ids_are_404(client: httpx.AsyncClient):
    assert (await client.delete("/api/v1/memory/events/999999")).status_code == 404
    assert (await client.delete("/api/v1/memory/facts/999999")).status_code == 404
    r = await client.post("/api/v1/memory/facts/999999/supersede", json={"content": "x"})
    assert r.status_code == 404
    assert (await client.delete("/api/v1/memory/events/0")).status_code == 422


async def test_a_misspelt_recall_filter_is_a_422_naming_it(client: httpx.AsyncClient):
    """`client=7` (for client_id) was ignored: the answer held every client's memories."""
    for content, client_id in (("Acme pays on the 5th", 7), ("Globex pays on the 5th", 8)):
        body = {"content": content, "client_id": client_id}
        assert (await client.post(R, json=body)).status_code == 201
    r = await client.get(
        "/api/v1/memory/recall", params={"query": "who pays on the 5th", "client": 7}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "client"
    ok = {"query": "who pays on the 5th", "client_id": 7, "kinds": "event", "floor": "false"}
    r = await client.get("/api/v1/memory/recall", params=ok)
    assert [h["content"] for h in r.json()["results"]] == ["Acme pays on the 5th"]


@pytest.mark.parametrize("subject_type", ["a" * 51, "plan:1"])
async def test_a_subject_type_a_graph_node_cannot_hold_is_a_422_not_a_500(
    client: httpx.AsyncClient, db_session: AsyncSession, subject_type: str
):
    """51-100 characters passed validation and the graph trigger's node type (50) failed
    the insert: a 500 from /facts, /remember and /remember/batch (an outside fuzzer). A ':'
    made a node of another type ("plan:1" and "me": plan "1:me")."""
    fact = {"subject_type": subject_type, "subject_id": "me", "fact_type": "result", "content": "c"}
    r = await client.post("/api/v1/memory/facts", json=fact)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "subject_type", r.text
    meta = {"subject_type": subject_type, "subject_id": "me", "fact_type": "preference"}
    memory = {"content": "Prefers mornings", "salience_score": 0.95, "metadata": meta}
    r = await client.post("/api/v1/memory/remember", json=memory)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "metadata.subject_type", r.text
    r = await client.post("/api/v1/memory/remember/batch", json={"items": [memory]})
    assert r.status_code == 422, r.text
    assert await db_session.scalar(select(func.count()).select_from(Fact)) == 0
    assert await db_session.scalar(select(func.count()).select_from(Event)) == 0
    fact["subject_type"] = "a" * 50  # the most a node type holds
    assert (await client.post("/api/v1/memory/facts", json=fact)).status_code == 201
