"""A plan or recall for client B never sees client A's memories, facts or past plans.

Real commits (the planner recalls through its own transactions) and the real `openai` SDK
against the scripted chat double, which records the prompt it was sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from openai import AsyncOpenAI

from almanac.app import create_app
from almanac.deps import get_state
from almanac.llm.base import LLMCallRecord
from almanac.llm.openai_compat import OpenAICompatibleLLM
from almanac.state import AppState
from tests.conftest import http_client, ok
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.planner.conftest import add_onboarding

MARKER = "zebrafinch-7731"
A, B = 101, 202
INTENT = "onboard the new client and run the kickoff"


class Records:
    def __init__(self) -> None:
        self.records: list[LLMCallRecord] = []

    async def record(self, record: LLMCallRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def api(committed_state: AppState, chat: FakeChatServer) -> AsyncIterator[httpx.AsyncClient]:
    sdk = AsyncOpenAI(base_url=chat.base_url, api_key="sk-test", timeout=5.0)
    llm = OpenAICompatibleLLM(
        client=sdk, model="fake-chat", recorder=Records(), timeout_seconds=5.0, max_retries=0
    )
    state = replace(committed_state, llm=llm)
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    async with http_client(app) as client:
        yield client
    await sdk.close()


def sop_reply() -> Reply:
    task = {"id": "kickoff", "title": "Kickoff call", "estimate_hours": 1.5, "depends_on": []}
    return Reply.json(
        {
            "title": "Onboarding",
            "summary": "Onboard",
            "steps": [{"id": "s", "title": "Start", "tasks": [task]}],
        }
    )


async def plant_client_a(api: httpx.AsyncClient, workflow_id: int) -> None:
    """The marker in every shape client A's data takes."""
    memories = [
        {"content": f"Client A kickoff notes {MARKER}", "client_id": A, "salience_score": 0.5},
        {
            "content": f"Onboarding kickoff for the client went well {MARKER}",
            "metadata": {"subject_type": "client", "subject_id": str(A)},
            "salience_score": 0.5,
        },
    ]
    for memory in memories:
        await ok(await api.post("/api/v1/memory/remember", json=memory), 201)
    facts = [
        {
            "subject_type": "client",
            "subject_id": str(A),
            "fact_type": "constraint",
            "content": f"No kickoff calls on Fridays {MARKER}",
        },
        {
            "subject_type": "client",
            "subject_id": str(A),
            "fact_type": "preference",
            "content": f"Prefers onboarding by email {MARKER}",
        },
        {
            "subject_type": "workflow",
            "subject_id": str(workflow_id),
            "fact_type": "pattern",
            "content": f"Client onboarding took 12 h for this client {MARKER}",
            "client_id": A,
        },
    ]
    for fact in facts:
        await ok(await api.post("/api/v1/memory/facts", json=fact), 201)


async def test_client_a_never_reaches_a_plan_prompt_or_recall_for_client_b(
    api: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    workflow = await add_onboarding(api, "kickoff")
    await plant_client_a(api, workflow["id"])
    # A past plan for client A (remembered as a memory of type plan).
    chat.script(sop_reply())
    plan_a = await ok(
        await api.post(
            "/api/v1/planner/plan", json={"intent": f"{INTENT} {MARKER}", "client_id": A}
        ),
        201,
    )
    assert MARKER in json.dumps(plan_a["context"]) or MARKER in plan_a["intent"]
    # The user's own preference is shared with every client.
    await ok(
        await api.post(
            "/api/v1/memory/facts",
            json={
                "subject_type": "user",
                "subject_id": "me",
                "fact_type": "preference",
                "content": "Kickoff calls in the morning",
            },
        ),
        201,
    )

    chat.requests.clear()
    chat.script(sop_reply())
    plan_b = await ok(
        await api.post("/api/v1/planner/plan", json={"intent": INTENT, "client_id": B}),
        201,
    )
    assert plan_b["context"], "the plan for B recalled nothing at all"
    assert MARKER not in json.dumps(plan_b)
    assert any("morning" in c["content"] for c in plan_b["context"])
    prompts = json.dumps([r.messages for r in chat.requests])
    assert chat.requests and MARKER not in prompts
    assert "morning" in prompts

    for params in ({"for_client": B}, {"for_client": 0}):
        recall = await ok(
            await api.get(
                "/api/v1/memory/recall", params={"query": f"kickoff onboarding {MARKER}", **params}
            )
        )
        assert recall["results"] and MARKER not in json.dumps(recall["results"])
        facts = await ok(await api.get("/api/v1/memory/facts", params=params))
        assert facts and MARKER not in json.dumps(facts)
    # Client A itself still sees its own.
    recall = await ok(
        await api.get("/api/v1/memory/recall", params={"query": "kickoff notes", "for_client": A})
    )
    assert MARKER in json.dumps(recall)
