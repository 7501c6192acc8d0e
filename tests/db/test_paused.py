"""A Postgres that is paused (SIGSTOP: connections accepted, nothing answered) rather than
down: requests answer 503 within the client-side command timeout, /health says "down"
promptly, and the same pool serves again once the server resumes.

The server paused is a throwaway embedded one, so the suite's shared server keeps serving.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from almanac.app import create_app
from almanac.config import DatabaseSettings, SecuritySettings
from almanac.db.embedded import EmbeddedPostgres, start_embedded
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.db.migrate import upgrade
from almanac.db.vector_indexes import ensure_indexes
from almanac.deps import get_state
from almanac.embedder import Embedder
from almanac.health import HEALTH_DEADLINE_SECONDS
from almanac.state import AppState
from tests.conftest import http_client, ok, seed_test_key

COMMAND_TIMEOUT = 1.5
CONNECT_TIMEOUT = 1.0
# What a request may take on a paused server: a ping or a statement that never answers,
# then a reconnect that never completes its handshake, plus scheduling slack.
REQUEST_BOUND = COMMAND_TIMEOUT + CONNECT_TIMEOUT + 2.0
# Past this the old code is taken to hang (it waited until the server resumed).
HANG = 30.0


@pytest.fixture(scope="module")
async def throwaway_pg(tmp_root: Path, embedder: Embedder) -> AsyncIterator[EmbeddedPostgres]:
    pg = await start_embedded(tmp_root / "paused", database="paused")
    setup = create_engine(pg.url, pool_size=1)
    try:
        await upgrade(setup)
        await ensure_indexes(setup, embedder.model, embedder.dim)
        await seed_test_key(setup)
    finally:
        await setup.dispose()
    try:
        yield pg
    finally:
        pg.stop()


@contextmanager
def paused(pg: EmbeddedPostgres) -> Iterator[None]:
    """SIGSTOP the postmaster and every backend; SIGCONT them whatever happens."""
    postmaster = psutil.Process(int((pg.pgdata / "postmaster.pid").read_text().split()[0]))
    procs = [postmaster, *postmaster.children(recursive=True)]
    for p in procs:
        os.kill(p.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGCONT)


@pytest.fixture
async def paused_state(throwaway_pg: EmbeddedPostgres, state: AppState) -> AsyncIterator[AppState]:
    database = DatabaseSettings(
        statement_timeout_seconds=1.0,
        command_timeout_seconds=COMMAND_TIMEOUT,
        connect_timeout_seconds=CONNECT_TIMEOUT,
        pool_size=2,
    )
    # No key cache: every request (/health's too) looks its key up in the paused database.
    security = state.settings.security.model_copy(update={"key_cache_seconds": 0.0})
    assert isinstance(security, SecuritySettings)
    settings = state.settings.model_copy(update={"database": database, "security": security})
    engine = create_engine(
        throwaway_pg.url,
        pool_size=database.pool_size,
        connect_timeout=database.connect_timeout_seconds,
        command_timeout=database.command_timeout_seconds,
    )
    yield dataclasses.replace(
        state, settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine)
    )
    await engine.dispose()


async def _timed(call: asyncio.Future[object] | object) -> tuple[object, float]:
    started = time.perf_counter()
    result = await asyncio.wait_for(call, HANG)  # type: ignore[arg-type]
    return result, time.perf_counter() - started


async def test_a_paused_database_answers_503_in_bounded_time_and_the_pool_recovers(
    throwaway_pg: EmbeddedPostgres, paused_state: AppState
):
    app = create_app(state=paused_state)
    app.dependency_overrides[get_state] = lambda: paused_state
    async with http_client(app) as api:
        before = await ok(
            await api.post("/api/v1/memory/remember", json={"content": "Boiler due in March"}),
            201,
        )
        await ok(await api.get("/api/v1/memory/recall", params={"query": "boiler"}))
        with paused(throwaway_pg):
            recall, remember, health = await asyncio.gather(
                _timed(api.get("/api/v1/memory/recall", params={"query": "boiler"})),
                _timed(api.post("/api/v1/memory/remember", json={"content": "Gas meter"})),
                _timed(api.get("/health")),
            )
            for (response, took), what in ((recall, "recall"), (remember, "remember")):
                assert took < REQUEST_BOUND, (what, took)
                assert response.status_code == 503, (what, response.text)  # type: ignore[attr-defined]
                assert response.headers["retry-after"] == "5"  # type: ignore[attr-defined]
                assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
                assert "database is unavailable" in response.json()["detail"]  # type: ignore[attr-defined]
            response, took = health
            # The key lookup gives up first, then the probes' deadline: "down", promptly.
            assert took < HEALTH_DEADLINE_SECONDS + 2.0 + 1.5, took
            assert response.status_code == 503  # type: ignore[attr-defined]
            assert response.json() == {"status": "down"}  # type: ignore[attr-defined]

        # Resumed: the same engine and pool serve again, nothing accepted was lost, and
        # the write refused during the pause was not half made.
        recalled = await ok(await api.get("/api/v1/memory/recall", params={"query": "boiler"}))
        assert before["id"] in {m["id"] for m in recalled["results"]}
        async with paused_state.engine.connect() as conn:
            gas = await conn.scalar(text("SELECT count(*) FROM events WHERE content = 'Gas meter'"))
        assert gas == 0
        await ok(await api.post("/api/v1/memory/remember", json={"content": "Gas meter"}), 201)
        health_after = await api.get("/health")
        assert health_after.json()["dependencies"]["database"]["status"] == "ok"
