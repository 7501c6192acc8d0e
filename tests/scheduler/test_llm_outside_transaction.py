"""The scheduler asks the LLM to read preferences with no transaction, lock or connection
held, and checks afterwards, under the plan's lock, that what it read still holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from almanac.app import create_app
from almanac.config import SchedulerSettings
from almanac.deps import get_state
from almanac.llm.recorder import DatabaseRecorder
from almanac.state import AppState
from tests.conftest import http_client
from tests.doubles.openai_chat import FakeChatServer, Reply, chat_llm
from tests.pool_watch import PoolWatch

from .conftest import TZ_NAME, Memories, make_plan, next_monday, parse

URL = "/api/v1/scheduler/schedule"
LATE = {"not_before": "13:00:00"}


@pytest.fixture
async def llm_state(committed_state: AppState, chat: FakeChatServer) -> AsyncIterator[AppState]:
    settings = committed_state.settings.model_copy(
        update={"timezone": TZ_NAME, "scheduler": SchedulerSettings(time_limit_seconds=2.0)}
    )
    async with chat_llm(chat, DatabaseRecorder(committed_state.sessionmaker)) as llm:
        yield replace(committed_state, llm=llm, settings=settings)


async def remember(state: AppState, kind: str, text: str) -> int:
    async with state.sessionmaker() as session:
        [fact_id] = await Memories(session, state).add(kind, text)
        await session.commit()
    return fact_id


async def committed_plan(state: AppState) -> int:
    async with state.sessionmaker() as session:
        plan = await make_plan(session, [{"key": "a"}, {"key": "b"}])
        await session.commit()
        return int(plan.id)


async def schedule_while(
    state: AppState, chat: FakeChatServer, plan_id: int, during: Any
) -> httpx.Response:
    """POST /schedule (a write); once the LLM has been asked, await `during()` while the
    double sits on its answer."""
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "horizon_days": 5}
    body["dry_run"] = False
    async with http_client(app) as client:
        await client.get("/api/v1/planner/plans")  # warm up: the key verified and cached
        request = asyncio.create_task(client.post(URL, json=body))
        while not chat.chat_requests and not request.done():
            await asyncio.sleep(0.01)
        await during()
        return await request


async def test_no_connection_or_lock_is_held_while_the_llm_reads_preferences(
    llm_state: AppState, chat: FakeChatServer, pool: PoolWatch
) -> None:
    fact_id = await remember(llm_state, "preference", "I'm sharpest after lunch")
    plan_id = await committed_plan(llm_state)
    chat.script(Reply.json(LATE, delay=0.8))
    held: list[int] = []

    async def during() -> None:
        held.append(await pool.sample())

    r = await schedule_while(llm_state, chat, plan_id, during)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["preferences"]["source"] == "llm"
    assert [m["fact_id"] for m in out["preferences"]["memories"]] == [fact_id]
    assert out["applied"] and all(parse(b["start"]).hour >= 13 for b in out["blocks"])
    assert held == [0], f"{held[0]} connection(s) held while the LLM was asked"
    assert len(chat.chat_requests) == 1


async def test_preferences_that_change_during_the_llm_call_are_read_again(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    await remember(llm_state, "preference", "I'm sharpest after lunch")
    plan_id = await committed_plan(llm_state)
    chat.script(Reply.json(LATE, delay=0.5), Reply.json({"not_before": "14:00:00"}))
    added: list[int] = []

    async def during() -> None:  # the user states a new preference meanwhile
        added.append(await remember(llm_state, "constraint", "nothing before 14:00"))

    r = await schedule_while(llm_state, chat, plan_id, during)
    assert r.status_code == 200, r.text
    out = r.json()
    # The first answer was read from facts that no longer hold: the LLM was asked again,
    # with the new fact, and the schedule follows the second answer.
    assert len(chat.chat_requests) == 2
    assert "nothing before 14:00" in chat.chat_requests[1].messages[-1]["content"]
    assert added[0] in [m["fact_id"] for m in out["preferences"]["memories"]]
    assert all(parse(b["start"]).hour >= 14 for b in out["blocks"])
