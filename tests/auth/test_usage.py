"""Usage per key is counted in memory and written at most every `usage_flush_seconds`."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from almanac.auth.runtime import auth_runtime
from almanac.state import AppState
from tests.conftest import TEST_ADMIN_NAME


async def _usage(state: AppState) -> tuple[int, object]:
    async with state.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT use_count, last_used_at FROM api_keys WHERE name = :n"),
                {"n": TEST_ADMIN_NAME},
            )
        ).one()
    return int(row[0]), row[1]


async def test_usage_is_batched_not_written_per_request(
    committed_state: AppState, committed_client: httpx.AsyncClient
) -> None:
    committed_state.settings.security.usage_flush_seconds = 3600
    before = await _usage(committed_state)
    for _ in range(5):
        assert (await committed_client.get("/api/v1/memory/facts")).status_code == 200
    # Nothing written yet: the hot path only counts in memory.
    assert await _usage(committed_state) == before
    runtime = auth_runtime(committed_state)
    await runtime.flush(committed_state.sessionmaker)
    count, last_used = await _usage(committed_state)
    assert count == before[0] + 5 and last_used is not None


async def test_a_due_flush_happens_on_a_request(
    committed_state: AppState, committed_client: httpx.AsyncClient
) -> None:
    committed_state.settings.security.usage_flush_seconds = 0
    before, _ = await _usage(committed_state)
    await committed_client.get("/api/v1/memory/facts")
    await committed_client.get("/api/v1/memory/facts")
    count, _ = await _usage(committed_state)
    assert count == before + 2
