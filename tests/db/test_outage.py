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
from almanac.errors import Busy, DatabaseUnavailable
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
                # In words: "FileNotFoundError" named the socket file, not the server gone.
                assert "it is not running" in r.json()["detail"], r.text
                assert "Error" not in r.json()["detail"], r.text
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


async def test_a_cancelled_statement_stays_a_cancellation_not_an_outage(pg_url: str):
    """A request whose client went away, or a query under a timeout, is cancelled while
    Postgres is fine: the caller must see CancelledError / TimeoutError (SQLAlchemy flags
    the cancelled connection as a disconnect), not a 503 that swallows the cancellation."""
    engine = create_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            sleeping = asyncio.create_task(conn.execute(text("SELECT pg_sleep(30)")))
            await asyncio.sleep(0.3)
            sleeping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sleeping
        async with engine.connect() as conn:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await conn.execute(text("SELECT pg_sleep(30)"))
        async with engine.connect() as conn:  # the pool still serves
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_a_server_refusing_more_connections_is_an_outage(pg_url: str, engine: AsyncEngine):
    """Postgres at its connection limit (SQLSTATE 53300, here a role's own limit) turns new
    connections away until others end: a 503 to retry, not a 500."""
    from sqlalchemy.engine import make_url

    role = f"full_{abs(hash(pg_url)) % 10_000}"
    async with engine.connect() as admin:
        await admin.execute(text(f"DROP ROLE IF EXISTS {role}"))
        await admin.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'x' CONNECTION LIMIT 0"))
        await admin.commit()
    url = make_url(pg_url).set(username=role, password="x")
    full = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with pytest.raises(DatabaseUnavailable, match="53300"):
            async with full.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await full.dispose()
        async with engine.connect() as admin:
            await admin.execute(text(f"DROP ROLE IF EXISTS {role}"))
            await admin.commit()


async def test_a_deadlock_postgres_breaks_is_a_503_to_retry_not_a_500(
    committed_state: AppState,
) -> None:
    """Two transactions each holding a lock the other waits for: Postgres fails one
    (SQLSTATE 40P01), which the request answered as a 500; it is rolled back whole, so it
    is `Busy`, a 503 with Retry-After, as a lock waited on too long is."""

    async def cross(first: int, second: int, ready: asyncio.Barrier) -> None:
        async with committed_state.sessionmaker() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(4242, :k)"), {"k": first})
            await ready.wait()
            await session.execute(text("SELECT pg_advisory_xact_lock(4242, :k)"), {"k": second})

    ready = asyncio.Barrier(2)
    results = await asyncio.gather(cross(1, 2, ready), cross(2, 1, ready), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1, results
    assert isinstance(failed[0], Busy), repr(failed[0])
    assert failed[0].status_code == 503 and failed[0].headers == {"Retry-After": "1"}
