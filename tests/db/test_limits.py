"""Request limits: a bounded wait for the schedule writers' lock, a pool checkout that
answers 503, and a statement timeout for request sessions only."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.app import create_app
from almanac.calendars.repository import CalendarEntryRepository
from almanac.config import DatabaseSettings, SchedulerSettings
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.db.limits import bound_request
from almanac.deps import get_state
from almanac.models import CalendarEntry, SchedulerRun
from almanac.models.status import APPLIED_RUN_STATUSES
from almanac.state import AppState
from tests.conftest import http_client, ok
from tests.scheduler.conftest import TZ_NAME, make_plan, next_monday

SCHEDULE = "/api/v1/scheduler/schedule"


def _app(state: AppState) -> httpx.AsyncClient:
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    return http_client(app)


def _limits(state: AppState, *, lock: float, statement: float) -> AppState:
    settings = state.settings.model_copy(
        update={
            "timezone": TZ_NAME,
            "scheduler": SchedulerSettings(time_limit_seconds=1.0, write_lock_timeout_seconds=lock),
            "database": DatabaseSettings(statement_timeout_seconds=statement),
        }
    )
    return dataclasses.replace(state, settings=settings)


@pytest.fixture
async def limited(committed_state: AppState) -> AsyncIterator[AppState]:
    yield _limits(committed_state, lock=0.5, statement=5)


async def _written(state: AppState, plan_id: int) -> tuple[int, int]:
    """(applied runs of the plan, Almanac blocks on the calendar)."""
    async with state.sessionmaker() as session:
        runs = await session.scalar(
            select(func.count()).where(
                SchedulerRun.plan_id == plan_id, SchedulerRun.status.in_(APPLIED_RUN_STATUSES)
            )
        )
        blocks = await session.scalar(
            select(func.count()).where(CalendarEntry.almanac_id.is_not(None))
        )
        return int(runs or 0), int(blocks or 0)


async def test_a_writer_waiting_past_the_lock_timeout_gets_a_503_and_writes_nothing(
    limited: AppState, engine: AsyncEngine
):
    async with limited.sessionmaker() as session:
        plan = await make_plan(session, [{"key": "draft", "estimate_hours": 2.0}])
        await session.commit()
    body = {"plan_id": plan.id, "start_date": str(next_monday()), "horizon_days": 5}
    async with _app(limited) as api:
        # Another writer of the schedule holds the lock, as one mid-solve does.
        async with engine.connect() as other:
            await other.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('almanac.calendar_entries.apply'))")
            )
            started = time.monotonic()
            r = await asyncio.wait_for(api.post(SCHEDULE, json=body | {"dry_run": False}), 10)
            waited = time.monotonic() - started
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert int(r.headers["retry-after"]) >= 1
            assert "being written by another request" in r.json()["detail"]
            assert 0.4 < waited < 5
            assert await _written(limited, plan.id) == (0, 0)
            await other.rollback()
        # The first writer is done: the retry goes through.
        out = await ok(await api.post(SCHEDULE, json=body | {"dry_run": False}))
        assert out["blocks"]
        runs, blocks = await _written(limited, plan.id)
        assert runs == 1 and blocks == len(out["blocks"])


async def test_the_lock_wait_limit_does_not_outlive_the_lock(limited: AppState):
    """Row locks later in the transaction keep the server's lock_timeout."""
    async with limited.sessionmaker() as session:
        bound_request(session, write_lock_timeout=0.5, statement_timeout=None)
        await CalendarEntryRepository(session).lock_blocks()
        assert await session.scalar(text("SHOW lock_timeout")) == "0"
        await session.rollback()


async def test_a_full_pool_answers_503_not_500_and_health_says_so(state: AppState, pg_url: str):
    small = create_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    full = dataclasses.replace(state, engine=small, sessionmaker=create_sessionmaker(small))
    try:
        async with _app(full) as api, small.connect() as held:
            await held.execute(text("SELECT 1"))  # the pool's only connection, checked out
            for path in ("/api/v1/memory/recall?query=boiler", "/api/v1/planner/plans"):
                r = await asyncio.wait_for(api.get(path), 10)
                assert r.status_code == 503, (path, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.headers["retry-after"] == "5"
                # The same problem as a writer refused the lock: one thing for clients to
                # handle, and it does not claim the database is down.
                assert r.json()["title"] == "Busy"
                assert "every pooled connection is busy" in r.json()["detail"]
                assert "nothing was changed" in r.json()["detail"]
        async with _app(full) as api:  # released: served again
            await ok(await api.get("/api/v1/planner/plans"))
    finally:
        await small.dispose()


async def test_a_full_pool_is_a_busy_database_in_health_not_a_down_one(
    state: AppState, pg_url: str
):
    """Every pooled connection held (writers queued on the schedule's lock) while Postgres
    answers: /health says degraded and why (200), not down (503, which would make a
    container health check restart a server that is only busy)."""
    small = create_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=10)
    full = dataclasses.replace(state, engine=small, sessionmaker=create_sessionmaker(small))
    try:
        async with _app(full) as api:
            await ok(await api.get("/health"))  # the key verified and cached
            async with small.connect() as held:
                await held.execute(text("SELECT 1"))  # the pool's only connection
                health = await asyncio.wait_for(api.get("/health"), 10)
                assert health.status_code == 200, health.text
                assert health.json()["status"] == "degraded"
                database = health.json()["dependencies"]["database"]
                assert database["status"] == "degraded", database
                assert "every pooled connection is in use (1 of 1)" in database["detail"]
            health = await asyncio.wait_for(api.get("/health"), 10)
            assert health.json()["dependencies"]["database"]["status"] == "ok"
    finally:
        await small.dispose()


async def test_a_request_statement_past_the_statement_timeout_answers_503(
    committed_state: AppState, engine: AsyncEngine
):
    async with _app(_limits(committed_state, lock=5, statement=0.5)) as api:
        await ok(await api.get("/api/v1/planner/plans"))  # the key verified and cached
        async with engine.connect() as other:
            await other.execute(text("LOCK TABLE plans IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            r = await asyncio.wait_for(api.get("/api/v1/planner/plans"), 10)
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert "statement timeout" in r.json()["detail"]
            assert time.monotonic() - started < 5
            await other.rollback()
        await ok(await api.get("/api/v1/planner/plans"))


async def test_sessions_outside_requests_have_no_statement_timeout(limited: AppState):
    async with limited.sessionmaker() as job:
        assert await job.scalar(text("SHOW statement_timeout")) == "0"
    async with limited.sessionmaker() as request:
        bound_request(request, write_lock_timeout=1, statement_timeout=2.5)
        assert await request.scalar(text("SHOW statement_timeout")) == "2500ms"
        await request.commit()  # a new transaction gets it again
        assert await request.scalar(text("SHOW statement_timeout")) == "2500ms"


async def test_a_burst_of_writers_on_a_small_pool_answers_200_or_503_and_never_hangs(
    committed_state: AppState, pg_url: str
):
    """Twelve schedule writes and two recalls at once on two connections: each answers in
    bounded time, a 503 problem with Retry-After or a 200, and a refused write wrote nothing."""
    small = create_engine(pg_url, pool_size=2, max_overflow=0, pool_timeout=1.0)
    state = dataclasses.replace(
        _limits(committed_state, lock=1.0, statement=10),
        engine=small,
        sessionmaker=create_sessionmaker(small),
    )
    try:
        async with state.sessionmaker() as session:
            plans = [
                await make_plan(session, [{"key": "t", "estimate_hours": 1.0}], title=f"P{i}")
                for i in range(12)
            ]
            await session.commit()
        async with _app(state) as api:
            await ok(await api.get("/api/v1/scheduler/sprints"))  # the key verified and cached
            start = str(next_monday())
            calls = [
                api.post(SCHEDULE, json={"plan_id": p.id, "start_date": start, "dry_run": False})
                for p in plans
            ] + [api.get("/api/v1/memory/recall?query=boiler") for _ in range(2)]
            answers = await asyncio.wait_for(asyncio.gather(*calls), 60)
        assert {r.status_code for r in answers} <= {200, 503}, [r.text for r in answers]
        for r in answers:
            if r.status_code == 503:
                assert r.headers["content-type"] == "application/problem+json"
                assert int(r.headers["retry-after"]) >= 1
                assert r.json()["title"] == "Busy", r.text  # the lock's or the pool's
        for plan, r in zip(plans, answers, strict=False):
            runs, _ = await _written(state, plan.id)
            assert runs == (1 if r.status_code == 200 else 0), r.text
        assert any(r.status_code == 200 for r in answers[:12])
    finally:
        await small.dispose()
