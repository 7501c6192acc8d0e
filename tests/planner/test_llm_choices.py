"""Models per operation: chosen at run time through the API, used by the next LLM call."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openai import AsyncOpenAI
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from almanac.db.engine import create_sessionmaker
from almanac.llm.base import InMemoryRecorder, LLMCallRecord, Message, Prompt
from almanac.llm.formats import FormatMemory
from almanac.llm.openai_compat import OpenAICompatibleLLM
from almanac.llm.repository import LLMCallRepository
from almanac.llm.tuning import NO_TUNING, StoredTuning
from almanac.models import LLMOperationSetting
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply

OPS = "/api/v1/planner/llm/operations"


class Answer(BaseModel):
    ok: bool


def _by_op(body: dict[str, object]) -> dict[str, dict[str, object]]:
    ops = body["operations"]
    assert isinstance(ops, list)
    return {o["operation"]: o for o in ops}


async def test_choose_and_reset_an_operation(client: httpx.AsyncClient) -> None:
    listed = await client.get(OPS)
    assert listed.status_code == 200, listed.text
    ops = _by_op(listed.json())
    assert set(ops) == {"planning", "scheduling", "reflection", "extraction"}
    assert ops["planning"]["source"] == "settings"
    assert ops["planning"]["max_tokens"] == 1000  # the settings' default for planning
    assert listed.json()["llm_configured"] is False

    chosen = await client.put(
        f"{OPS}/planning", json={"model": "vendor/big-model:beta", "temperature": 0.3}
    )
    assert chosen.status_code == 200, chosen.text
    out = chosen.json()
    assert (out["model"], out["source"], out["temperature"]) == (
        "vendor/big-model:beta",
        "dashboard",
        0.3,
    )
    assert out["max_tokens"] == 1000  # not chosen: still the configured limit
    again = _by_op((await client.get(OPS)).json())
    assert again["planning"]["model"] == "vendor/big-model:beta"
    assert again["reflection"]["source"] == "settings"

    reset = await client.delete(f"{OPS}/planning")
    assert reset.status_code == 200
    assert reset.json()["source"] == "settings"
    assert reset.json()["temperature"] is None


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("planning", {"temperature": 2.5}, "temperature"),
        ("planning", {"temperature": -0.1}, "temperature"),
        ("planning", {"max_tokens": 0}, "max_tokens"),
        ("planning", {"max_tokens": 10**9}, "max_tokens"),
        ("planning", {"model": "bad model!"}, "model"),
        ("planning", {"model": "x" * 201}, "model"),
        ("planning", {"colour": "blue"}, "colour"),
        ("juggling", {"model": "m"}, "operation"),
    ],
)
async def test_bad_choices_are_refused_and_write_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    r = await client.put(f"{OPS}/{path}", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text
    count = await db_session.scalar(select(func.count()).select_from(LLMOperationSetting))
    assert count == 0


async def test_only_admin_keys_change_models(client: httpx.AsyncClient) -> None:
    keys = {}
    for scope in ("read", "write"):
        made = await client.post("/api/v1/auth/keys", json={"name": f"k-{scope}", "scope": scope})
        assert made.status_code == 201, made.text
        keys[scope] = made.json()["key"]
    for scope, key in keys.items():
        auth = {"Authorization": f"Bearer {key}"}
        assert (await client.get(OPS, headers=auth)).status_code == 200, scope
        put = await client.put(f"{OPS}/planning", json={"model": "m"}, headers=auth)
        assert put.status_code == 403, (scope, put.text)
        assert (await client.delete(f"{OPS}/planning", headers=auth)).status_code == 403


async def test_cost_estimate_uses_the_chosen_models_recorded_price(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    repo = LLMCallRepository(db_session)
    # Ten planning calls on a cheap model: 1,000 tokens each at $0.001 per call.
    for _ in range(10):
        await repo.record(
            LLMCallRecord(
                operation="planning",
                model="cheap",
                outcome="ok",
                tokens_in=800,
                tokens_out=200,
                cost=0.001,
            )
        )
    # A dear model priced by one reflection call: 500 tokens for $0.05 ($0.0001 a token).
    await repo.record(
        LLMCallRecord(
            operation="reflection",
            model="dear",
            outcome="ok",
            tokens_in=400,
            tokens_out=100,
            cost=0.05,
        )
    )
    await client.put(f"{OPS}/planning", json={"model": "cheap"})
    cheap = _by_op((await client.get(OPS)).json())["planning"]
    assert cheap["calls_30_days"] == 10
    assert cheap["estimate"]["per_call"] == pytest.approx(0.001)
    assert cheap["estimate"]["per_30_days"] == pytest.approx(0.01)

    dear = (await client.put(f"{OPS}/planning", json={"model": "dear"})).json()
    assert dear["estimate"]["per_call"] == pytest.approx(0.1)  # 1,000 tokens at $0.0001
    assert "dear" in dear["estimate"]["basis"]

    unknown = (await client.put(f"{OPS}/planning", json={"model": "never-used"})).json()
    assert unknown["estimate"]["per_call"] is None
    assert "no recorded price" in unknown["estimate"]["basis"]


@pytest.fixture
def chat() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


async def test_the_next_call_uses_the_choice_without_a_restart(
    committed_client: httpx.AsyncClient, committed_state: AppState, chat: FakeChatServer
) -> None:
    sdk = AsyncOpenAI(base_url=chat.base_url, api_key="sk-test", timeout=5.0)
    llm = OpenAICompatibleLLM(
        client=sdk,
        model="configured-model",
        recorder=InMemoryRecorder(),
        max_tokens={"planning": 1000},
        stream=False,
        formats=FormatMemory(),
        tuning=StoredTuning(committed_state.sessionmaker),
    )

    async def call() -> dict[str, object]:
        chat.script(Reply.json({"ok": True}))
        await llm.complete_json(
            operation="planning", prompt=Prompt([Message("user", "hi")]), schema=Answer
        )
        return chat.chat_requests[-1].body

    try:
        first = await call()
        assert first["model"] == "configured-model"
        assert first["max_tokens"] == 1000
        assert "temperature" not in first

        r = await committed_client.put(
            f"{OPS}/planning", json={"model": "chosen/model", "temperature": 0.2, "max_tokens": 321}
        )
        assert r.status_code == 200, r.text
        second = await call()
        assert (second["model"], second["temperature"], second["max_tokens"]) == (
            "chosen/model",
            0.2,
            321,
        )

        assert (await committed_client.delete(f"{OPS}/planning")).status_code == 200
        third = await call()
        assert third["model"] == "configured-model"
        assert "temperature" not in third
    finally:
        await sdk.close()


async def test_choices_that_cannot_be_read_fall_back_to_the_settings() -> None:
    engine = create_async_engine(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none", connect_args={"timeout": 1}
    )
    try:
        tuning = StoredTuning(create_sessionmaker(engine))
        assert await tuning.get("planning") == NO_TUNING
    finally:
        await engine.dispose()
