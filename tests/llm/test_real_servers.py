"""Behaviours of real OpenAI-compatible servers, one test each, through the real `openai` SDK.

Each was seen against a real server (llama-cpp-python's, llama.cpp's `llama-server`,
SmolLM2-135M): the double reproduces it on the wire and the client must cope.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic import BaseModel, Field

from almanac.llm.base import (
    InMemoryRecorder,
    LLMAnswerRejected,
    LLMTooSlow,
    LLMUnavailable,
    Message,
    Prompt,
)
from almanac.llm.formats import FormatMemory
from almanac.llm.openai_compat import OpenAICompatibleLLM
from tests.doubles.openai_chat import FakeChatServer, Reply


class Plan(BaseModel):
    title: str
    steps: list[str]
    minutes: int = Field(ge=1)


GOOD = {"title": "Tidy the shed", "steps": ["empty it", "sweep"], "minutes": 45}
MESSAGES = [Message("system", "You plan small jobs."), Message("user", "Plan the shed.")]


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


@pytest.fixture
async def sdk(server: FakeChatServer) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", timeout=5.0)
    yield client
    await client.close()


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def make(sdk: AsyncOpenAI, recorder: InMemoryRecorder) -> Any:
    def build(**kw: Any) -> OpenAICompatibleLLM:
        args: dict[str, Any] = {
            "client": sdk,
            "model": "fake-chat",
            "recorder": recorder,
            "timeout_seconds": 5.0,
            "max_retries": 2,
            "backoff_base_seconds": 0.01,
            "breaker_failures": 1,  # one counted failure would open it: none may count
            "formats": FormatMemory(),
        }
        args.update(kw)
        return OpenAICompatibleLLM(**args)

    return build


async def ask(llm: OpenAICompatibleLLM, **kw: Any) -> Plan:
    result = await llm.complete_json(
        operation="planning", prompt=Prompt(MESSAGES), schema=Plan, **kw
    )
    return result.value


async def test_llama_cpp_python_500_on_json_schema_steps_down_and_keeps_the_traceback_out(
    server: FakeChatServer,
    make: Any,
    recorder: InMemoryRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.reject_json_schema, server.reject_status = True, 500
    server.script(Reply.json(GOOD), Reply.json(GOOD))
    llm = make()
    with caplog.at_level(logging.WARNING, logger="almanac.llm"):
        assert await ask(llm) == Plan(**GOOD)
    assert [r.response_format_type for r in server.chat_requests] == [
        "json_schema",
        "json_object",
    ]
    # A refusal is not an outage: the breaker (threshold 1) stays closed.
    assert llm.breaker.state == "closed" and llm.breaker.consecutive_failures == 0
    rec = recorder.records[0]
    assert rec.outcome == "ok" and rec.output_mode == "json_object" and rec.attempts == 2
    # The traceback is in the operator's log only.
    assert "Traceback" in caplog.text and "site-packages" in caplog.text
    assert rec.error is None
    # Remembered: the next call asks json_object straight away.
    await ask(llm)
    assert server.chat_requests[-1].response_format_type == "json_object"
    assert len(server.chat_requests) == 3


async def test_a_server_taking_only_json_object(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.accepted_formats = ("json_object",)
    server.script(Reply.json(GOOD))
    llm = make()
    await ask(llm)
    assert [r.response_format_type for r in server.chat_requests] == [
        "json_schema",
        "json_object",
    ]
    # The schema travels in the prompt when the wire cannot carry it.
    assert "JSON Schema" in server.chat_requests[-1].messages[0]["content"]
    assert llm.formats.get(llm.base_url, "fake-chat") == "json_object"


async def test_a_server_refusing_every_response_format_gets_plain_text(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.accepted_formats = ("text",)
    server.script(Reply("Here is your plan:\n```json\n" + json.dumps(GOOD) + "\n```\nEnjoy!"))
    llm = make()
    assert await ask(llm) == Plan(**GOOD)
    assert [r.response_format_type for r in server.chat_requests] == [
        "json_schema",
        "json_object",
        None,
    ]
    assert recorder.records[0].output_mode == "text"
    assert llm.formats.get(llm.base_url, "fake-chat") == "text"


async def test_a_server_ignoring_response_format_answers_prose_around_the_json(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(Reply("Sure! " + json.dumps(GOOD) + " Let me know if you need more."))
    assert await ask(make()) == Plan(**GOOD)
    assert recorder.records[0].outcome == "ok"  # no repair round was needed


async def test_slow_streaming_until_the_context_limit_is_cancelled_at_the_budget(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    # llama-cpp-python with a small model: json_schema refused with a 500, then a slow
    # stream of words with no usage report until the end.
    server.reject_json_schema, server.reject_status = True, 500
    server.script(Reply("word " * 2000, chunk_chars=10, chunk_delay=0.05))
    llm = make()
    started = time.monotonic()
    # The budget also holds the refused json_schema call and the retry in json_object,
    # which must fit in it on a loaded machine (0.8 s was tight); the stream takes 50 s.
    with pytest.raises(LLMTooSlow) as info:
        await ask(llm, budget_seconds=3.0, max_tokens=1500)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0 + 7, elapsed  # cut at the budget, not at the stream's end
    assert info.value.status_code == 504 and "budget" in info.value.message
    (rec,) = recorder.records
    assert rec.outcome == "timeout" and rec.reached_model
    # The cancelled call's tokens are still on record, estimated from what streamed.
    assert rec.tokens_estimated and rec.tokens_in > 0 and rec.tokens_out > 0
    assert server.chat_requests[-1].body["max_tokens"] == 1500
    assert server.chat_requests[-1].body["stream"] is True
    # The server took json_object before the budget ran out: the next call starts there.
    assert llm.formats.get(llm.base_url, "fake-chat") == "json_object"


async def test_truncated_json_at_max_tokens_is_repaired_with_a_shorter_answer(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    long = {**GOOD, "steps": [f"step number {i}" for i in range(60)]}
    server.script(Reply.json(long), Reply.json(GOOD))
    llm = make()
    assert await ask(llm, max_tokens=100) == Plan(**GOOD)
    first, repair = server.chat_requests
    assert first.body["max_tokens"] == 100
    assert "cut off at the token limit" in repair.messages[-1]["content"]
    assert recorder.records[0].outcome == "repaired"


async def test_well_formed_nonsense_is_rejected_by_the_judge_and_recorded_with_why(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    nonsense = {"title": "Plan the shed", "steps": ["Plan the shed"], "minutes": 1}
    server.script(Reply.json(nonsense))
    llm = make()

    def judge(plan: Plan) -> list[str]:
        return ["one step that only repeats the title"] if plan.steps == [plan.title] else []

    with pytest.raises(LLMAnswerRejected) as info:
        await ask(llm, judge=judge)
    assert info.value.reasons == ["one step that only repeats the title"]
    (rec,) = recorder.records
    assert rec.outcome == "rejected" and rec.rejection == info.value.reasons
    assert rec.reached_model
    assert llm.breaker.state == "closed"  # the server works; its answer did not


async def test_an_outage_in_every_mode_is_unavailable_and_counts(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(*[Reply.fail(503, "loading model") for _ in range(3)])
    llm = make()
    with pytest.raises(LLMUnavailable):
        await ask(llm)
    # 503 is an outage, not a refusal: no stepping down, retried, and the breaker counts it.
    assert {r.response_format_type for r in server.chat_requests} == {"json_schema"}
    assert llm.breaker.state == "open"
    assert not recorder.records[0].reached_model
    assert "the last 1 call(s) failed" in (llm.recent_failure() or "")


async def test_a_configured_output_mode_is_where_asking_starts(
    server: FakeChatServer, make: Any
) -> None:
    server.script(Reply("The plan: " + json.dumps(GOOD)))
    llm = make(output_mode="text")
    assert await ask(llm) == Plan(**GOOD)
    (request,) = server.chat_requests
    assert request.response_format_type is None
    assert "JSON Schema" in request.messages[0]["content"]
