"""OpenAICompatibleLLM through the real `openai` SDK against a local scripted HTTP double."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic import BaseModel, Field

from almanac.llm.base import (
    InMemoryRecorder,
    LLMCallRecord,
    LLMOutputInvalid,
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
MESSAGES = [
    Message("system", "You plan small jobs."),
    Message("user", "Plan tidying the shed."),
]


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


@pytest.fixture
async def sdk(server: FakeChatServer) -> AsyncIterator[AsyncOpenAI]:
    # The SDK's default max_retries (2) is left on purpose: the client must switch it off.
    client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", timeout=5.0)
    yield client
    await client.close()


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make(sdk: AsyncOpenAI, recorder: InMemoryRecorder, sleep: FakeSleep, clock: Clock) -> Any:
    def build(**kw: Any) -> OpenAICompatibleLLM:
        args: dict[str, Any] = {
            "client": sdk,
            "model": "fake-chat",
            "recorder": recorder,
            "timeout_seconds": 2.0,
            "max_retries": 3,
            "backoff_base_seconds": 0.5,
            "breaker_failures": 3,
            "breaker_reset_seconds": 30.0,
            "sleep": sleep,
            "clock": clock,
            "jitter": lambda: 0.5,
            "formats": FormatMemory(),  # what earlier tests' servers accepted is not shared
        }
        args.update(kw)
        return OpenAICompatibleLLM(**args)

    return build


async def plan(llm: OpenAICompatibleLLM, operation: str = "planning") -> Plan:
    result = await llm.complete_json(
        operation=operation,
        prompt=Prompt(MESSAGES, "plan_day", "v3"),
        schema=Plan,
    )
    return result.value


async def test_valid_json_first_time(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(Reply.json(GOOD, prompt_tokens=120, completion_tokens=30, cost=0.00042))
    llm = make()
    result = await llm.complete_json(
        operation="planning",
        prompt=Prompt(MESSAGES, "plan_day", "v3"),
        schema=Plan,
    )
    assert result.value == Plan(**GOOD)
    rec = result.record
    assert recorder.records == [rec]
    assert rec.outcome == "ok" and rec.error is None
    assert (rec.operation, rec.model) == ("planning", "fake-chat")
    assert (rec.prompt_template, rec.prompt_version) == ("plan_day", "v3")
    assert (rec.tokens_in, rec.tokens_out, rec.attempts) == (120, 30, 1)
    assert rec.cost == pytest.approx(0.00042)
    assert rec.latency_ms > 0

    (req,) = server.chat_requests
    assert req.body["model"] == "fake-chat"
    assert req.messages == [
        {"role": "system", "content": "You plan small jobs."},
        {"role": "user", "content": "Plan tidying the shed."},
    ]
    fmt = req.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Plan"
    assert fmt["json_schema"]["strict"] is False
    assert fmt["json_schema"]["schema"] == Plan.model_json_schema()
    assert req.headers["authorization"] == "Bearer sk-test"


async def test_cost_is_none_when_the_provider_does_not_report_it(
    server: FakeChatServer, make: Any
) -> None:
    server.script(Reply.json(GOOD))
    result = await make().complete_json(operation="planning", prompt=Prompt(MESSAGES), schema=Plan)
    assert result.record.cost is None
    assert result.record.prompt_template is None


async def test_json_in_a_markdown_fence_is_accepted(server: FakeChatServer, make: Any) -> None:
    server.script("```json\n" + json.dumps(GOOD) + "\n```")
    result = await make().complete_json(operation="planning", prompt=Prompt(MESSAGES), schema=Plan)
    assert result.value.title == "Tidy the shed"
    assert result.record.outcome == "ok"


async def test_malformed_json_is_repaired_once(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    broken = '{"title": "Tidy the shed", "steps": ["empty it", '
    server.script(
        Reply(content=broken, prompt_tokens=100, completion_tokens=20),
        Reply.json(GOOD, prompt_tokens=150, completion_tokens=25),
    )
    result = await make().complete_json(operation="planning", prompt=Prompt(MESSAGES), schema=Plan)
    assert result.value == Plan(**GOOD)
    rec = result.record
    assert rec.outcome == "repaired" and rec.attempts == 2
    assert (rec.tokens_in, rec.tokens_out) == (250, 45)
    assert recorder.records == [rec]

    first, repair = server.chat_requests
    assert repair.messages[: len(first.messages)] == first.messages
    assistant, ask = repair.messages[len(first.messages) :]
    assert assistant == {"role": "assistant", "content": broken}
    assert ask["role"] == "user"
    assert "Invalid JSON" in ask["content"]  # pydantic's own description of the fault
    assert "corrected JSON" in ask["content"]


async def test_schema_violation_twice_raises_output_invalid(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(
        Reply.json({"title": "Tidy", "steps": "sweep", "minutes": 0}),
        Reply.json({"title": "Tidy", "steps": ["sweep"]}),
    )
    llm = make()
    with pytest.raises(LLMOutputInvalid) as info:
        await plan(llm)
    assert info.value.status_code == 502
    assert "minutes" in info.value.message and "Field required" in info.value.message

    # The repair request quoted both errors of the first answer.
    repair = server.chat_requests[1].messages[-1]["content"]
    assert "steps" in repair and "minutes" in repair
    assert "greater than or equal to 1" in repair

    (rec,) = recorder.records
    assert rec.outcome == "invalid" and rec.attempts == 2
    assert rec.error is not None and "minutes: Field required" in rec.error
    # A server that answers is up, however bad the answer: the breaker is not moved.
    assert llm.breaker.consecutive_failures == 0


async def test_429_twice_then_success_backs_off_exponentially(
    server: FakeChatServer, make: Any, sleep: FakeSleep
) -> None:
    server.script(Reply.fail(429, "slow down"), Reply.fail(429, "slow down"), Reply.json(GOOD))
    result = await plan_result(make(backoff_base_seconds=0.5))
    assert result.outcome == "ok"
    assert result.attempts == 3
    assert len(server.chat_requests) == 3  # the SDK did not retry on its own
    # base * 2**n, plus jitter (0.5 * 10%) from the injected source.
    assert sleep.delays == pytest.approx([0.5 * 1.05, 1.0 * 1.05])


async def plan_result(llm: OpenAICompatibleLLM) -> LLMCallRecord:
    result = await llm.complete_json(operation="planning", prompt=Prompt(MESSAGES), schema=Plan)
    return result.record


async def test_jitter_stays_small_and_delays_grow(
    server: FakeChatServer, make: Any, sleep: FakeSleep
) -> None:
    server.script(*[Reply.fail(503) for _ in range(3)], Reply.json(GOOD))
    await plan(make(jitter=lambda: 0.999))
    assert len(sleep.delays) == 3
    for n, delay in enumerate(sleep.delays):
        assert 0.5 * 2**n <= delay <= 0.5 * 2**n * 1.1
    assert sleep.delays == sorted(sleep.delays)


async def test_persistent_500_gives_up_after_max_retries(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder, sleep: FakeSleep
) -> None:
    server.script(*[Reply.fail(500, "upstream exploded") for _ in range(5)])
    llm = make(max_retries=2)
    with pytest.raises(LLMUnavailable) as info:
        await plan(llm)
    assert info.value.status_code == 503
    # The server's words go to the log, never into the answer or the record.
    assert "upstream exploded" not in info.value.message
    # A 500 may be a refusal of json_schema, then of json_object: those two are free; in
    # plain text it is an outage, retried twice with backoff.
    modes = [r.response_format_type for r in server.chat_requests]
    assert modes == ["json_schema", "json_object", None, None, None]
    assert len(sleep.delays) == 2
    (rec,) = recorder.records
    assert rec.outcome == "error" and rec.attempts == 5
    assert rec.error is not None and "HTTP 500" in rec.error
    assert "upstream exploded" not in rec.error
    assert llm.formats.get(llm.base_url, "fake-chat") == "json_schema"  # nothing worked


async def test_rate_limit_exhausted_is_recorded_as_rate_limited(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(Reply.fail(429), Reply.fail(429))
    with pytest.raises(LLMUnavailable):
        await plan(make(max_retries=1))
    assert recorder.records[0].outcome == "rate_limited"
    assert recorder.records[0].attempts == 2


async def test_unauthorised_is_not_retried_and_does_not_trip_the_breaker(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder, sleep: FakeSleep
) -> None:
    server.script(Reply.fail(401, "Incorrect API key provided"))
    llm = make(breaker_failures=1)
    with pytest.raises(LLMUnavailable, match="HTTP 401") as info:
        await plan(llm)
    assert "Incorrect API key" not in info.value.message
    assert len(server.chat_requests) == 1 and sleep.delays == []
    assert recorder.records[0].outcome == "error"
    assert llm.breaker.state == "closed"


# The request timeout in the two tests below, and how late the slow replies come. The
# timeout also holds the reply that comes at once, so it must be roomy on a loaded machine
# (0.15 s was not always).
TIMEOUT, LATE = 1.0, 5.0


async def test_slow_server_times_out_and_is_retried(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(Reply.json(GOOD, delay=LATE), Reply.json(GOOD))
    result = await plan_result(make(timeout_seconds=TIMEOUT, max_retries=1))
    assert result.outcome == "ok" and result.attempts == 2


async def test_timeouts_exhausted_raise_unavailable(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    server.script(Reply.json(GOOD, delay=LATE), Reply.json(GOOD, delay=LATE))
    with pytest.raises(LLMUnavailable, match=f"no answer within {TIMEOUT:g}s"):
        await plan(make(timeout_seconds=TIMEOUT, max_retries=1))
    (rec,) = recorder.records
    assert rec.outcome == "timeout" and rec.attempts == 2
    # Both attempts waited their timeout, and neither the late reply.
    assert 2 * TIMEOUT * 1000 <= rec.latency_ms < 2 * LATE * 1000, rec.latency_ms


async def test_an_error_whose_body_stalls_is_a_timeout_and_retried(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    # The SDK reads a streamed request's error body after the headers, outside its own
    # error wrapping: the raw HTTP library's ReadTimeout used to escape as a 500.
    server.script(Reply.fail(503, stall=LATE), Reply.json(GOOD))
    result = await plan_result(make(timeout_seconds=TIMEOUT, max_retries=1))
    assert result.outcome == "ok" and result.attempts == 2


async def test_a_stream_that_stalls_midway_is_a_timeout(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder
) -> None:
    slow = Reply.json(GOOD, chunk_chars=8, chunk_delay=LATE)
    server.script(slow, Reply.fail(503, stall=LATE))
    with pytest.raises(LLMUnavailable, match=f"no answer within {TIMEOUT:g}s"):
        await plan(make(timeout_seconds=TIMEOUT, max_retries=1))
    (rec,) = recorder.records
    assert rec.outcome == "timeout" and rec.attempts == 2


async def test_json_schema_rejection_falls_back_to_json_object_and_is_remembered(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder, sleep: FakeSleep
) -> None:
    server.reject_json_schema = True
    server.script(Reply.json(GOOD), Reply.json(GOOD))
    llm = make()
    first = await plan_result(llm)
    assert first.outcome == "ok" and first.attempts == 2
    assert llm.formats.get(llm.base_url, "fake-chat") == "json_object"
    assert sleep.delays == []  # a capability probe, not a retry

    rejected, fallback = server.chat_requests
    assert rejected.response_format_type == "json_schema"
    assert fallback.response_format_type == "json_object"
    # The schema moved into the (existing) system message.
    system = fallback.messages[0]
    assert system["role"] == "system"
    assert system["content"].startswith("You plan small jobs.")
    assert json.dumps(Plan.model_json_schema(), separators=(",", ":")) in system["content"]
    assert fallback.messages[1:] == rejected.messages[1:]

    second = await plan_result(llm)
    assert second.attempts == 1
    assert len(server.chat_requests) == 3
    assert server.chat_requests[2].response_format_type == "json_object"


async def test_json_object_mode_adds_a_system_message_when_there_is_none(
    server: FakeChatServer, make: Any
) -> None:
    server.script(Reply.json(GOOD))
    llm = make()
    llm.formats.remember(llm.base_url, "fake-chat", "json_object")
    await llm.complete_json(
        operation="planning", prompt=Prompt([Message("user", "Plan it.")]), schema=Plan
    )
    (req,) = server.chat_requests
    assert [m["role"] for m in req.messages] == ["system", "user"]
    assert "JSON Schema" in req.messages[0]["content"]


async def test_circuit_opens_fails_fast_then_half_opens(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder, clock: Clock
) -> None:
    llm = make(max_retries=0, breaker_failures=2, breaker_reset_seconds=30.0)
    server.script(Reply.fail(500), Reply.fail(502))
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            await plan(llm)
    assert llm.breaker.state == "open"
    sent = len(server.requests)

    with pytest.raises(LLMUnavailable, match="circuit open") as info:
        await plan(llm)
    assert info.value.status_code == 503
    assert len(server.requests) == sent  # nothing reached the server
    last = recorder.records[-1]
    assert last.outcome == "circuit_open" and last.attempts == 0
    with pytest.raises(LLMUnavailable):
        await llm.check()  # /health sees it too, without a request

    clock.now += 29.0
    with pytest.raises(LLMUnavailable, match="circuit open"):
        await plan(llm)
    assert len(server.requests) == sent

    clock.now += 1.0
    assert llm.breaker.state == "half_open"
    server.script(Reply.json(GOOD))
    assert await plan(llm) == Plan(**GOOD)
    assert llm.breaker.state == "closed"
    assert [r.outcome for r in recorder.records] == [
        "error",
        "error",
        "circuit_open",
        "circuit_open",
        "ok",
    ]


async def test_failed_trial_call_reopens_the_circuit(
    server: FakeChatServer, make: Any, clock: Clock
) -> None:
    llm = make(max_retries=0, breaker_failures=1, breaker_reset_seconds=10.0)
    llm.formats.remember(llm.base_url, "fake-chat", "text")  # no format left to refuse
    server.script(Reply.fail(500), Reply.fail(500))
    with pytest.raises(LLMUnavailable):
        await plan(llm)
    clock.now += 10.0
    with pytest.raises(LLMUnavailable, match="HTTP 500"):
        await plan(llm)
    assert llm.breaker.state == "open"
    assert len(server.chat_requests) == 2


async def test_per_operation_model_selection(server: FakeChatServer, make: Any) -> None:
    llm = make(models={"planning": "big-planner", "extraction": "tiny"})
    assert llm.model_for("planning") == "big-planner"
    assert llm.model_for("reflection") == "fake-chat"
    server.script(Reply.json(GOOD), Reply.json(GOOD), Reply.json(GOOD))
    records = [await plan_for(llm, op) for op in ("planning", "extraction", "reflection")]
    assert [r.body["model"] for r in server.chat_requests] == ["big-planner", "tiny", "fake-chat"]
    assert [r.model for r in records] == ["big-planner", "tiny", "fake-chat"]


async def plan_for(llm: OpenAICompatibleLLM, operation: str) -> LLMCallRecord:
    result = await llm.complete_json(operation=operation, prompt=Prompt(MESSAGES), schema=Plan)
    return result.record


async def test_a_failing_recorder_does_not_lose_the_answer(
    server: FakeChatServer, make: Any
) -> None:
    class Broken:
        async def record(self, record: LLMCallRecord) -> None:
            raise RuntimeError("database gone")

    server.script(Reply.json(GOOD))
    assert await plan(make(recorder=Broken())) == Plan(**GOOD)


async def test_check_lists_models(server: FakeChatServer, make: Any) -> None:
    await make().check()
    assert server.requests[-1].method == "GET"
    assert server.requests[-1].path == "/v1/models"


async def test_check_fails_when_the_server_is_gone(recorder: InMemoryRecorder) -> None:
    with FakeChatServer() as gone:
        url = gone.base_url
    client = AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    llm = OpenAICompatibleLLM(
        client=client, model="m", recorder=recorder, timeout_seconds=1.0, max_retries=0
    )
    try:
        with pytest.raises(LLMUnavailable, match="check failed"):
            await llm.check()
        with pytest.raises(LLMUnavailable) as info:
            await llm.complete_json(operation="planning", prompt=Prompt(MESSAGES), schema=Plan)
        assert "could not connect" in info.value.message
    finally:
        await client.close()
