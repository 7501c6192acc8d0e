"""The observer asks the LLM with no transaction, lock or connection held. Fact
extraction takes the event's lock afterwards, and a worker that finds the event extracted
meanwhile (or changed) does not write its answer; a reflection is narrated after its reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import update

from almanac.db.uow import unit_of_work
from almanac.llm.base import InMemoryRecorder
from almanac.models import Event
from almanac.observer.deps import observer_service
from almanac.observer.schemas import ExtractionOut
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply, chat_llm
from tests.observer.extraction import CONTENT, GOOD, add_salient_event, decisions
from tests.pool_watch import PoolWatch


@pytest.fixture
async def llm_state(committed_state: AppState, chat: FakeChatServer) -> AsyncIterator[AppState]:
    async with chat_llm(chat, InMemoryRecorder()) as llm:
        yield replace(committed_state, llm=llm)


async def salient_event(state: AppState, content: str = CONTENT) -> int:
    async with state.sessionmaker() as session:
        event_id = await add_salient_event(session, content)
        await session.commit()
        return event_id


async def extract(state: AppState, event_id: int) -> ExtractionOut:
    """What the background job does: one unit of work around the extraction."""
    async with unit_of_work(state.sessionmaker) as uow:
        return await observer_service(uow, state).facts.extract(event_id, defer=True)


async def while_the_llm_thinks(chat: FakeChatServer, job: asyncio.Task[Any], n: int = 1) -> None:
    while len(chat.chat_requests) < n and not job.done():
        await asyncio.sleep(0.01)


async def test_no_connection_or_lock_is_held_while_the_llm_extracts(
    llm_state: AppState, chat: FakeChatServer, pool: PoolWatch
) -> None:
    event_id = await salient_event(llm_state)
    chat.script(Reply.json(GOOD, delay=0.8))
    job = asyncio.create_task(extract(llm_state, event_id))
    await while_the_llm_thinks(chat, job)
    held = await pool.sample()
    out = await job
    assert [d.decision for d in out.decisions] == ["added"] and out.llm.used
    assert held == 0, f"{held} connection(s) held while the LLM was asked"


async def test_two_workers_on_one_event_write_its_facts_once(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    event_id = await salient_event(llm_state)
    chat.script(Reply.json(GOOD, delay=0.4), Reply.json(GOOD, delay=0.6))
    first, second = await asyncio.gather(extract(llm_state, event_id), extract(llm_state, event_id))
    # Both asked the LLM (neither held the event's lock meanwhile); the later one found the
    # earlier one's decisions under the lock and left them standing.
    assert len(chat.chat_requests) == 2
    assert sorted([first.already_extracted, second.already_extracted]) == [False, True]
    assert await decisions(llm_state, event_id) == [("llm", "added")]


async def test_an_event_changed_while_the_llm_read_it_is_read_again(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    event_id = await salient_event(llm_state, "Acme pays in USD.")
    chat.script(Reply.json({"facts": []}, delay=0.5), Reply.json(GOOD))
    job = asyncio.create_task(extract(llm_state, event_id))
    await while_the_llm_thinks(chat, job)
    async with llm_state.sessionmaker() as session:  # a retried remember replaces it
        await session.execute(update(Event).where(Event.id == event_id).values(content=CONTENT))
        await session.commit()
    out = await job
    assert len(chat.chat_requests) == 2
    assert CONTENT in chat.chat_requests[1].messages[-1]["content"]
    assert [d.decision for d in out.decisions] == ["added"]


async def test_no_connection_is_held_while_the_llm_narrates_a_reflection(
    llm_state: AppState, chat: FakeChatServer, pool: PoolWatch
) -> None:
    chat.script(Reply.json({"narrative": "A quiet day.", "adjustments": []}, delay=0.8))

    async def reflect() -> Any:
        async with unit_of_work(llm_state.sessionmaker) as uow:
            return await observer_service(uow, llm_state).reflect("daily")

    job = asyncio.create_task(reflect())
    await while_the_llm_thinks(chat, job)
    held = await pool.sample()
    out = await job
    assert out.llm["used"] is True and out.narrative == "A quiet day."
    assert held == 0, f"{held} connection(s) held while the LLM was asked"
