"""LLM call records persist in Postgres, in their own transaction, and sum up per operation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from almanac.llm.base import LLMCallRecord
from almanac.llm.recorder import DatabaseRecorder
from almanac.llm.repository import LLMCallRepository
from almanac.state import AppState


async def test_records_persist_and_sum_per_operation(committed_state: AppState):
    recorder = DatabaseRecorder(committed_state.sessionmaker)
    start = datetime.now(UTC) - timedelta(seconds=1)
    await recorder.record(
        LLMCallRecord(
            operation="planning",
            model="m1",
            tokens_in=100,
            tokens_out=40,
            latency_ms=900.0,
            cost=0.002,
            attempts=1,
            reached_model=True,
        )
    )
    await recorder.record(
        LLMCallRecord(
            operation="planning",
            model="m1",
            tokens_in=50,
            tokens_out=10,
            latency_ms=100.0,
            cost=None,
            outcome="invalid",
            error="schema",
            attempts=2,
            reached_model=True,
        )
    )
    # Refused by an open circuit: on record, but it never reached the model (not capped).
    await recorder.record(LLMCallRecord(operation="planning", model="m1", outcome="circuit_open"))
    await recorder.record(
        LLMCallRecord(
            operation="reflection", model="m2", tokens_in=7, outcome="timeout", attempts=4
        )
    )
    async with committed_state.sessionmaker() as session:
        repo = LLMCallRepository(session)
        assert await repo.count_since("planning", start) == 2
        assert await repo.count_since("planning", datetime.now(UTC) + timedelta(hours=1)) == 0
        usage = {(u["operation"], u["model"]): u for u in await repo.usage(start)}
    planning = usage[("planning", "m1")]
    assert planning["calls"] == 3 and planning["tokens_in"] == 150
    assert planning["tokens_out"] == 50 and planning["failed"] == 2
    assert abs(float(planning["cost"]) - 0.002) < 1e-9  # type: ignore[arg-type]
    assert abs(float(planning["mean_latency_ms"]) - 1000 / 3) < 1e-6  # type: ignore[arg-type]
    assert usage[("reflection", "m2")]["failed"] == 1


async def test_a_record_survives_the_callers_rollback(committed_state: AppState):
    recorder = DatabaseRecorder(committed_state.sessionmaker)
    async with committed_state.sessionmaker() as request_session:
        await recorder.record(
            LLMCallRecord(operation="planning", model="m", outcome="invalid", reached_model=True)
        )
        await request_session.rollback()
    async with committed_state.sessionmaker() as session:
        since = datetime.now(UTC) - timedelta(minutes=1)
        assert await LLMCallRepository(session).count_since("planning", since) == 1
