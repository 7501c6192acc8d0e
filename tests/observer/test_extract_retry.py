"""Fact extraction that waits for the LLM: retried with backoff by a real worker, visible in
the jobs list with its reason, and never marked done by a failure or by nonsense."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from openai import AsyncOpenAI
from sqlalchemy import text

from almanac.background import task_blueprints
from almanac.config import JobsSettings
from almanac.jobs.worker import start_embedded_worker, stop_embedded_worker
from almanac.llm.base import InMemoryRecorder
from almanac.llm.formats import FormatMemory
from almanac.llm.openai_compat import OpenAICompatibleLLM
from almanac.observer import tasks
from almanac.state import AppState
from tests.conftest import http_client
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.jobs.conftest import wait_for_job
from tests.observer.extraction import GOOD, add_salient_event, decisions

NONSENSE = {
    "facts": [
        {**GOOD["facts"][0], "content": "Acme pays 172.1222.1222 EUR. Acme pays 172.1222.1222 EUR."}
    ]
}


@pytest.fixture
def chat() -> Iterator[FakeChatServer]:
    with FakeChatServer() as server:
        yield server


@pytest.fixture
async def worker_state(
    committed_state: AppState, chat: FakeChatServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AppState]:
    sdk = AsyncOpenAI(base_url=chat.base_url, api_key="sk-test", timeout=5.0)
    llm = OpenAICompatibleLLM(
        client=sdk,
        model="fake-chat",
        recorder=InMemoryRecorder(),
        max_retries=0,
        breaker_failures=50,
        formats=FormatMemory(),
    )
    settings = committed_state.settings.model_copy(
        update={"jobs": JobsSettings(poll_interval_seconds=0.1, clock_interval_seconds=0.1)}
    )
    # Seconds, not minutes, between the tries.
    monkeypatch.setattr(tasks.EXTRACT_RETRY.llm, "base_seconds", 0.2)
    yield replace(committed_state, llm=llm, settings=settings)
    await sdk.close()


async def defer_extraction(state: AppState) -> tuple[int, int]:
    from almanac.jobs.queue import enqueue

    async with state.sessionmaker() as session:
        event_id = await add_salient_event(session)
        job_id = await enqueue(
            session, "observer:extract_facts", args={"event_id": event_id}, queue="observer"
        )
        await session.commit()
    return event_id, job_id


async def test_llm_down_then_nonsense_then_good_is_retried_until_extracted(
    worker_state: AppState, chat: FakeChatServer
) -> None:
    # Down (503) on the first try, nonsense on the second, a good answer on the third.
    chat.script(Reply.fail(503), Reply.json(NONSENSE), Reply.json(GOOD))
    event_id, job_id = await defer_extraction(worker_state)
    worker = await start_embedded_worker(worker_state, task_blueprints())
    try:
        row = await wait_for_job(worker_state.engine, job_id, timeout=30)
    finally:
        await stop_embedded_worker(worker)
    assert row.status == "succeeded" and row.attempts == 3
    assert await decisions(worker_state, event_id) == [("llm", "added")]
    async with worker_state.engine.connect() as conn:
        events = (
            (
                await conn.execute(
                    text(
                        "SELECT type::text FROM procrastinate_events WHERE job_id = :j ORDER BY id"
                    ),
                    {"j": job_id},
                )
            )
            .scalars()
            .all()
        )
    assert events.count("deferred_for_retry") == 2


async def test_a_job_that_keeps_waiting_shows_its_reason_and_fails_with_nothing_recorded(
    worker_state: AppState, chat: FakeChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.EXTRACT_RETRY.llm, "max_attempts", 1)
    chat.script(Reply.json(NONSENSE), Reply.json(NONSENSE), Reply.json(NONSENSE))
    event_id, job_id = await defer_extraction(worker_state)
    worker = await start_embedded_worker(worker_state, task_blueprints())
    try:
        row = await wait_for_job(worker_state.engine, job_id, timeout=30)
    finally:
        await stop_embedded_worker(worker)
    assert row.status == "failed" and row.attempts == 2
    # Not marked extracted: a later run (or a person) can still extract it.
    assert await decisions(worker_state, event_id) == []
    from almanac.app import create_app
    from almanac.deps import get_state

    app = create_app(state=worker_state)
    app.dependency_overrides[get_state] = lambda: worker_state
    async with http_client(app) as client:
        jobs = (await client.get("/api/v1/jobs", params={"task": "observer:extract_facts"})).json()
    (job,) = jobs if isinstance(jobs, list) else jobs["items"]
    assert job["status"] == "failed"
    assert job["reason"].startswith("waiting for the LLM: the checks rejected the LLM's facts")
    assert "figures not in the memory" in job["reason"] or "repeats itself" in job["reason"]
