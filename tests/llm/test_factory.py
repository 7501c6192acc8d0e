"""build_llm: provider choice, required settings, and a working client end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from almanac.config import (
    LLMSettings,
    NoLLMSettings,
    OpenAILLMSettings,
    Settings,
    problem_line,
)
from almanac.llm.base import InMemoryRecorder, Message, Prompt
from almanac.llm.factory import build_llm
from almanac.llm.openai_compat import OpenAICompatibleLLM
from tests.doubles.openai_chat import FakeChatServer, Reply


class Answer(BaseModel):
    ok: bool


def test_provider_none_means_no_llm() -> None:
    assert build_llm(NoLLMSettings(), InMemoryRecorder()) is None
    # A model set without a provider is ignored, as before the union.
    none = TypeAdapter(LLMSettings).validate_python({"model": "x"})
    assert build_llm(none, InMemoryRecorder()) is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"provider": "openai", "model": "m"}, "base_url"),
        ({"provider": "openai", "base_url": "http://127.0.0.1:9/v1"}, "model"),
    ],
)
def test_openai_requires_base_url_and_model(values: dict[str, str], field: str) -> None:
    # Checked when the settings are read (so `almanac serve` stops), not per request.
    with pytest.raises(ValidationError) as info:
        Settings(llm=values, _env_file=None)  # type: ignore[arg-type,call-arg]
    [error] = info.value.errors()
    assert error["loc"] == ("llm", "openai", field)
    assert problem_line(error) == (
        f"ALMANAC_LLM__{field.upper()}: required when ALMANAC_LLM__PROVIDER=openai"
    )


async def test_openai_builds_a_working_client_from_settings() -> None:
    recorder = InMemoryRecorder()
    with FakeChatServer() as server:
        settings = OpenAILLMSettings(
            base_url=server.base_url,
            model="fake-chat",
            models={"reflection": "thinker"},
            timeout_seconds=3.0,
            max_retries=1,
            backoff_base_seconds=0.0,
            breaker_failures=4,
            breaker_reset_seconds=12.0,
        )
        llm = build_llm(settings, recorder)
        assert isinstance(llm, OpenAICompatibleLLM)
        try:
            assert llm.client.max_retries == 0
            assert llm.client.timeout == 3.0
            assert (llm.max_retries, llm.timeout_seconds) == (1, 3.0)
            assert llm.breaker.failure_threshold == 4
            assert llm.breaker.reset_seconds == 12.0
            server.script(Reply.fail(503), Reply.json({"ok": True}))
            result = await llm.complete_json(
                operation="reflection", prompt=Prompt([Message("user", "ok?")]), schema=Answer
            )
        finally:
            await llm.close()
        assert result.value.ok is True
        assert result.record.attempts == 2
        assert recorder.records == [result.record]
        assert [r.body["model"] for r in server.chat_requests] == ["thinker", "thinker"]
        # No key configured: a placeholder, never one read from the environment.
        assert server.chat_requests[0].headers["authorization"] == "Bearer not-needed"


async def test_openai_sends_the_configured_key() -> None:
    with FakeChatServer() as server:
        settings = OpenAILLMSettings(
            base_url=server.base_url,
            model="fake-chat",
            api_key=SecretStr("sk-secret"),
        )
        llm = build_llm(settings, InMemoryRecorder())
        assert llm is not None
        try:
            await llm.check()
        finally:
            await llm.close()
        assert server.requests[0].headers["authorization"] == "Bearer sk-secret"


def test_the_factory_does_not_load_the_openai_sdk_without_an_llm() -> None:
    code = (
        "import sys\n"
        "from almanac.llm.base import InMemoryRecorder\n"
        "from almanac.llm.factory import build_llm\n"
        "from almanac.config import NoLLMSettings\n"
        "assert build_llm(NoLLMSettings(), InMemoryRecorder()) is None\n"
        "assert 'openai' not in sys.modules, 'openai imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
