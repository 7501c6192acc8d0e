"""An LLM server that accepts requests and never answers (wedged), built from settings the
way `almanac serve` builds it: the plan comes from the library within the planning budget
and says why, /health shows the LLM degraded promptly, and tuning one operation's budget
keeps every other operation's."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import OpenAILLMSettings
from almanac.health import HEALTH_DEADLINE_SECONDS
from almanac.llm.factory import build_llm
from almanac.llm.openai_compat import OpenAICompatibleLLM
from almanac.models import Workflow
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client, ok
from tests.doubles.openai_chat import FakeChatServer
from tests.planner.conftest import SessionRecorder

BUDGET = 1.0


@pytest.fixture
async def wedged(
    state: AppState, chat: FakeChatServer, recorder: SessionRecorder, db_session: AsyncSession
) -> AsyncIterator[tuple[httpx.AsyncClient, OpenAICompatibleLLM]]:
    # Only planning's budget is set, as a user tuning it would; the rest stay defaults
    # (a 60 s request timeout, 3 retries).
    settings = OpenAILLMSettings(
        base_url=chat.base_url, model="fake-chat", budget_seconds={"planning": BUDGET}
    )
    llm = build_llm(settings, recorder)
    assert isinstance(llm, OpenAICompatibleLLM)
    chat.hang()
    one = dataclasses.replace(state, llm=llm)
    try:
        async with http_client(app_in_transaction(one, db_session)) as client:
            yield client, llm
    finally:
        chat.release()
        await llm.close()


async def test_a_wedged_llm_plans_from_the_library_within_the_budget_and_says_so(
    wedged: tuple[httpx.AsyncClient, OpenAICompatibleLLM], library: dict[str, Workflow]
) -> None:
    client, llm = wedged
    started = time.perf_counter()
    plan = await ok(
        await client.post("/api/v1/planner/plan", json={"intent": "onboard a new client"}), 201
    )
    # The rest of the request varies with the machine's load; the LLM alone would hang (it
    # never answers) or, with another operation's budget, take 20 s or more.
    assert time.perf_counter() - started < BUDGET + 10
    assert plan["source"] == "library" and plan["llm"]["used"] is False
    assert plan["degraded"] == ["llm"]
    assert "too slow" in plan["llm"]["detail"] and f"{BUDGET:g} s budget" in plan["llm"]["detail"]

    started = time.perf_counter()
    health = (await client.get("/health")).json()
    assert time.perf_counter() - started < HEALTH_DEADLINE_SECONDS + 8  # not the LLM's 60 s
    entry = health["dependencies"]["llm"]
    assert health["status"] == "degraded" and entry["status"] == "degraded"
    assert entry["detail"].startswith("no answer within"), entry

    # The other operations kept their default budgets: none waits out 4 x 60 s.
    assert llm.budgets == {
        "planning": BUDGET,
        "preview": 25.0,
        "scheduling": 20.0,
        "reflection": 45.0,
        "extraction": 30.0,
    }
