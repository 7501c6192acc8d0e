"""Postgres unreachable or cutting connections: 503 problems, and the pool recovers."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.app import create_app
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.deps import get_state
from almanac.errors import DatabaseUnavailable
from almanac.state import AppState
from tests.conftest import http_client


async def test_requests_answer_503_problems_while_the_database_is_unreachable(
    state: AppState, tmp_path: Path
):
    # A Unix socket nobody listens on: what an embedded server that stopped leaves behind.
    engine = create_engine(f"postgresql+asyncpg://u:p@/almanac?host={tmp_path}", pool_size=1)
    down = dataclasses.replace(state, engine=engine, sessionmaker=create_sessionmaker(engine))
    try:
        app = create_app(state=down)
        app.dependency_overrides[get_state] = lambda: down
        async with http_client(app) as api:
            for method, path, body in (
                ("GET", "/api/v1/memory/recall?query=boiler", None),
                ("POST", "/api/v1/memory/remember", {"content": "Boiler service in March"}),
                ("GET", "/api/v1/planner/plans", None),
            ):
                r = await api.request(method, path, json=body)
                assert r.status_code == 503, (path, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert "database is unavailable" in r.json()["detail"]
                assert r.headers["retry-after"] == "5"
            health = await api.get("/health")
            assert health.status_code == 503
            # The key cannot be checked either, so only the summary is shown.
            assert health.json() == {"status": "down"}
    finally:
        await engine.dispose()


async def test_a_connection_cut_mid_statement_is_reported_and_the_pool_recovers(
    pg_url: str, engine: AsyncEngine
):
    """pg_terminate_backend on a running statement: DatabaseUnavailable, then the same
    engine serves the next statement without a restart."""
    victim = create_engine(pg_url, pool_size=1)
    try:
        async with victim.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with victim.connect() as conn:
            sleeping = asyncio.create_task(conn.execute(text("SELECT pg_sleep(30)")))
            await asyncio.sleep(0.3)
            async with engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            with pytest.raises(DatabaseUnavailable):
                await asyncio.wait_for(sleeping, 10)
        async with victim.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await victim.dispose()


async def test_a_cancelled_statement_stays_a_cancellation(pg_url: str):
    """asyncio timeouts around a query still work: the cancellation is not turned into
    DatabaseUnavailable (SQLAlchemy reports it as a disconnect)."""
    eng = create_engine(pg_url, pool_size=1)
    try:
        async with eng.connect() as conn:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(conn.execute(text("SELECT pg_sleep(30)")), 0.3)
        async with eng.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await eng.dispose()
