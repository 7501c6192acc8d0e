"""How many database connections a plan request holds, measured on the engine's pool.

Memory is reached through the port bound to the request's unit of work, so recalling
preferences, client facts, facts about every matched workflow and past plans adds no
connection; and the request's transaction is ended before the LLM is asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from almanac.app import create_app
from almanac.deps import get_state
from almanac.llm.recorder import DatabaseRecorder
from almanac.ontology.starter import load_starter_library
from almanac.state import AppState
from tests.conftest import http_client
from tests.doubles.openai_chat import FakeChatServer, Reply, chat_llm
from tests.pool_watch import PoolWatch

PLAN = "/api/v1/planner/plan"
# Matches the starter library's "Marketing ops engagement" blueprint: seven workflows.
INTENT = "a marketing ops engagement end to end for a new retainer client"


async def test_a_plan_with_many_matched_workflows_holds_at_most_two_connections(
    committed_state: AppState, pool: PoolWatch
) -> None:
    await load_starter_library(committed_state.sessionmaker)
    app = create_app(state=committed_state)
    app.dependency_overrides[get_state] = lambda: committed_state
    async with http_client(app) as client:
        await client.get("/api/v1/planner/plans")  # warm up: keys verified and cached
        pool.peak = pool.now
        r = await client.post(PLAN, json={"intent": INTENT, "client_id": 7})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["match"]["chosen"]["name"] == "Marketing ops engagement"
    assert plan["degraded"] == []
    # Before the port (each recall and fact list in its own session): 10 at once.
    assert pool.peak <= 2, f"a plan request held {pool.peak} connections at once"


async def test_no_connection_is_held_while_the_llm_thinks(
    committed_state: AppState, pool: PoolWatch
) -> None:
    await load_starter_library(committed_state.sessionmaker)
    recorder = DatabaseRecorder(committed_state.sessionmaker)
    with FakeChatServer() as chat:
        async with chat_llm(chat, recorder, timeout_seconds=3.0) as llm:
            state = replace(committed_state, llm=llm)
            r = await plan_while_the_llm_thinks(state, chat, pool)
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "llm"
    assert max(pool.samples) == 0, f"{max(pool.samples)} connection(s) held during the LLM call"


async def plan_while_the_llm_thinks(
    state: AppState, chat: FakeChatServer, pool: PoolWatch
) -> httpx.Response:
    """POST /plan for an intent nothing matches, sampling the pool while the LLM answers."""
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    tasks = [
        {"id": "sand", "title": "Sand", "estimate_hours": 2},
        {"id": "prime", "title": "Prime", "estimate_hours": 1, "depends_on": ["sand"]},
        {"id": "coat", "title": "Coat", "estimate_hours": 3, "depends_on": ["prime"]},
    ]
    answer = {
        "title": "Repaint the shed",
        "summary": "Two coats",
        "steps": [{"id": "paint", "title": "Paint", "tasks": tasks}],
    }
    chat.script(Reply.json(answer, delay=0.8))
    async with http_client(app) as client:
        await client.get("/api/v1/planner/plans")
        # Nothing in the library matches: the plan is the LLM's.
        body = {"intent": "repaint the garden shed in dark green"}
        request = asyncio.create_task(client.post(PLAN, json=body))
        while not chat.chat_requests and not request.done():
            await asyncio.sleep(0.01)
        await pool.sample()  # while the double sits on its answer (kept in pool.samples)
        return await request
