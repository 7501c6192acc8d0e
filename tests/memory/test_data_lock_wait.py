"""A request waiting for a data lock (the owner's, a client's) held by another writer -- a
send to Zep or a deletion there holds it through its call to Zep -- gives up after the
write-lock timeout with a `Busy` 503, as for the schedule's lock: not after the statement
timeout with a 503 saying the database is unavailable."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.app import create_app
from almanac.config import DatabaseSettings, SchedulerSettings
from almanac.deps import get_state
from almanac.state import AppState
from tests.conftest import http_client

LOCK_S, STATEMENT_S = 0.5, 5.0
OWNER = text("SELECT pg_advisory_xact_lock(hashtext('owner-data'), 0)")
CLIENT = text("SELECT pg_advisory_xact_lock(hashtext('client-data'), 4)")


@pytest.fixture
async def api(committed_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    settings = committed_state.settings.model_copy(
        update={
            "scheduler": SchedulerSettings(write_lock_timeout_seconds=LOCK_S),
            "database": DatabaseSettings(statement_timeout_seconds=STATEMENT_S),
        }
    )
    state = dataclasses.replace(committed_state, settings=settings)
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    async with http_client(app) as client:
        yield client


async def busy(api: httpx.AsyncClient, engine: AsyncEngine, held: str, path: str) -> None:
    """DELETE `path` while another transaction holds the lock `held` takes: a Busy 503
    soon after the write-lock timeout; then, the lock released, it goes through."""
    async with engine.connect() as other:
        await other.execute(text(held))
        started = time.monotonic()
        r = await asyncio.wait_for(api.delete(path), STATEMENT_S * 3)
        waited = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert "being written by another request" in r.json()["detail"], r.text
        assert int(r.headers["retry-after"]) >= 1
        assert LOCK_S * 0.8 < waited < STATEMENT_S * 0.8, waited
        await other.rollback()
    r = await api.delete(path)
    assert r.status_code in (200, 204), r.text


async def test_a_delete_waits_for_the_owners_lock_no_longer_than_the_write_lock_timeout(
    api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    r = await api.post(
        "/api/v1/memory/remember", json={"content": "Initech moved to Austin", "client_id": 4}
    )
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    await busy(api, engine, OWNER.text, f"/api/v1/memory/events/{eid}")


async def test_a_forget_waits_for_a_clients_lock_no_longer_than_the_write_lock_timeout(
    api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    r = await api.post(
        "/api/v1/memory/remember", json={"content": "Initech pays in USD", "client_id": 4}
    )
    assert r.status_code == 201, r.text
    await busy(api, engine, CLIENT.text, "/api/v1/memory/subjects/client/4")
