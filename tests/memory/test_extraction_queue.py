"""Salient memories are queued for fact extraction in the same transaction (with an LLM)."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import OpenAILLMSettings
from almanac.state import AppState

JOBS = text(
    "SELECT args FROM procrastinate_jobs WHERE task_name = 'observer:extract_facts' ORDER BY id"
)

LLM = OpenAILLMSettings(base_url="http://127.0.0.1:9/v1", model="m")


async def queued(db_session: AsyncSession) -> list[int]:
    return [row[0]["event_id"] for row in await db_session.execute(JOBS)]


async def test_salient_unpromoted_memories_are_queued(
    client: httpx.AsyncClient, state: AppState, db_session: AsyncSession
) -> None:
    state.settings.llm = LLM  # extraction needs an LLM; none is called here
    items = [
        {"content": "Acme's CFO now signs off every invoice above 5k", "salience_score": 0.9},
        {"content": "had coffee", "salience_score": 0.2},
        {
            "content": "Prefers calls after 10",
            "salience_score": 0.9,
            "metadata": {"subject_type": "user", "subject_id": "me", "fact_type": "preference"},
        },
    ]
    r = await client.post("/api/v1/memory/remember/batch", json={"items": items})
    assert r.status_code == 201, r.text
    ids = r.json()["ids"]
    # Only the first: the second is not salient, the third became a fact at once.
    assert await queued(db_session) == [ids[0]]


async def test_no_llm_no_jobs_and_a_failed_write_queues_nothing(
    client: httpx.AsyncClient, state: AppState, db_session: AsyncSession
) -> None:
    body = {"content": "Globex renews in March", "salience_score": 0.95}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    assert await queued(db_session) == []

    state.settings.llm = LLM
    first = {"content": "Hooli pays net 30", "idempotency_key": "k1"}
    assert (await client.post("/api/v1/memory/remember", json=first)).status_code == 201
    # The second item reuses k1 for other content: the whole batch is refused, so neither
    # the new memory nor its job is stored (a job rolls back with its transaction:
    # tests/jobs/test_queue.py).
    batch = {
        "items": [
            {"content": "Initech wants weekly reports", "salience_score": 0.9},
            {"content": "Hooli pays net 60", "idempotency_key": "k1"},
        ]
    }
    r = await client.post("/api/v1/memory/remember/batch", json=batch)
    assert r.status_code == 409
    assert await queued(db_session) == []
