"""An answer far longer than `max_tokens` allows (a server or proxy that ignores the
limit) is read only up to a bound, and never sent back whole in the repair request."""

from __future__ import annotations

from typing import Any

import pytest

from almanac.llm.base import InMemoryRecorder, LLMOutputInvalid
from almanac.llm.wire import CHARS_PER_TOKEN_CEILING, MAX_ANSWER_CHARS
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.llm import test_openai_compat as base
from tests.llm.test_openai_compat import GOOD, plan

# The fixtures of the client's own tests: the double, the SDK, the client's factory.
server, sdk, recorder, sleep, clock, make = (
    base.server,
    base.sdk,
    base.recorder,
    base.sleep,
    base.clock,
    base.make,
)

HUGE = "x" * 5_000_000  # 5 MB of not-JSON


@pytest.mark.parametrize("stream", [True, False])
async def test_a_5_mb_answer_is_cut_at_the_token_limit_and_not_sent_back(
    server: FakeChatServer, make: Any, recorder: InMemoryRecorder, stream: bool
) -> None:
    server.script(
        Reply(content=HUGE, chunk_chars=65536, ignore_max_tokens=True),
        Reply(content=HUGE, chunk_chars=65536, ignore_max_tokens=True),
    )
    llm = make(max_tokens={"planning": 300}, stream=stream)
    with pytest.raises(LLMOutputInvalid) as info:
        await plan(llm)
    assert "cut off at the token limit" in str(info.value)
    first, repair = server.chat_requests
    quoted = repair.messages[-2]
    assert quoted["role"] == "assistant"
    assert 0 < len(quoted["content"]) <= 300 * CHARS_PER_TOKEN_CEILING
    assert recorder.records[-1].outcome == "invalid"


async def test_without_a_token_limit_an_answer_is_read_up_to_the_absolute_bound(
    server: FakeChatServer, make: Any
) -> None:
    server.script(
        Reply(content=HUGE, chunk_chars=65536),
        Reply.json(GOOD),
    )
    llm = make()
    assert (await plan(llm)).title == GOOD["title"]
    repair = server.chat_requests[-1]
    assert repair.body.get("max_tokens") is None
    assert 0 < len(repair.messages[-2]["content"]) <= MAX_ANSWER_CHARS


async def test_a_long_answer_within_the_bound_is_read_whole(
    server: FakeChatServer, make: Any
) -> None:
    # Long strings are legitimate: only what no token limit allows is cut.
    good = {**GOOD, "title": "t" * 3000}
    server.script(Reply.json(good, chunk_chars=7, ignore_max_tokens=True))
    llm = make(max_tokens={"planning": 300})
    assert (await plan(llm)).title == good["title"]
    assert len(server.chat_requests) == 1
