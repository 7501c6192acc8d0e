"""/health reports the LLM: not configured, ok, or degraded (planning then uses the library)."""

from __future__ import annotations

import httpx
from openai import AsyncOpenAI

from almanac.llm.base import InMemoryRecorder
from almanac.llm.openai_compat import OpenAICompatibleLLM
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply


async def test_without_an_llm_health_says_so(client: httpx.AsyncClient) -> None:
    llm = (await client.get("/health")).json()["dependencies"]["llm"]
    assert llm["status"] == "not_configured"
    assert "deterministically" in llm["detail"]


async def test_llm_ok_then_degraded_when_the_server_is_gone(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, llm_state: AppState
) -> None:
    body = (await llm_client.get("/health")).json()
    assert body["dependencies"]["llm"]["status"] == "ok"
    assert body["dependencies"]["llm"]["detail"] == "fake-chat"
    # Port 9 (discard) on loopback: nothing listens, connections are refused.
    sdk = AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test", timeout=1.0)
    llm_state.llm = OpenAICompatibleLLM(client=sdk, model="fake-chat", recorder=InMemoryRecorder())
    r = await llm_client.get("/health")
    await sdk.close()
    assert r.status_code == 200  # the LLM is optional: degraded, not down
    body = r.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["llm"]["status"] == "degraded"
    assert "falls back to the workflow library" in body["dependencies"]["llm"]["detail"]


async def test_health_reports_failing_real_calls_even_when_models_answers(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, llm_state: AppState
) -> None:
    # /v1/models answers, but every chat call fails: health must not say "ok".
    chat.script(*[Reply.fail(503, "model crashed") for _ in range(3)])
    r = await llm_client.post("/api/v1/planner/plan", json={"intent": "repaint the shed"})
    assert r.status_code == 503
    llm = (await llm_client.get("/health")).json()["dependencies"]["llm"]
    assert llm["status"] == "degraded"
    assert "the last 1 call(s) failed" in llm["detail"] and "HTTP 503" in llm["detail"]
    assert "model crashed" not in llm["detail"]
    # One good call later, it is ok again.
    good = {
        "title": "Shed",
        "steps": [
            {
                "id": "p",
                "title": "Paint",
                "tasks": [
                    {"id": "sand", "title": "Sand the walls", "estimate_hours": 2},
                    {"id": "coat", "title": "Two coats", "estimate_hours": 3},
                ],
            }
        ],
    }
    chat.script(Reply.json(good))
    r = await llm_client.post("/api/v1/planner/plan", json={"intent": "repaint the shed"})
    assert r.status_code == 201, r.text
    assert (await llm_client.get("/health")).json()["dependencies"]["llm"]["status"] == "ok"
