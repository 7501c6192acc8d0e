"""GET /api/v1/jobs and /api/v1/jobs/{id}."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import procrastinate
import pytest

from almanac.app import create_app
from almanac.deps import get_state
from almanac.jobs.endpoints import router
from almanac.jobs.queue import enqueue
from almanac.state import AppState
from tests.conftest import http_client
from tests.jobs.conftest import running_worker, wait_for_job


@pytest.fixture
async def jobs_client(committed_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(state=committed_state)
    app.include_router(router)  # app.py wires it in; here the test does
    app.dependency_overrides[get_state] = lambda: committed_state
    async with http_client(app) as c:
        yield c


async def test_jobs_list_filters_and_detail_shows_history(
    committed_state: AppState,
    jobs_client: httpx.AsyncClient,
    effects: None,
    test_app: procrastinate.App,
):
    async with committed_state.sessionmaker() as session:
        done = await enqueue(session, "tests:flaky", args={"key": "x"})
        await session.commit()
    async with running_worker(committed_state, test_app):
        await wait_for_job(committed_state.engine, done)
    async with committed_state.sessionmaker() as session:
        waiting = await enqueue(session, "tests:record", args={"key": "y"}, queue="later")
        await session.commit()

    everything = (await jobs_client.get("/api/v1/jobs")).json()
    assert [j["id"] for j in everything] == [waiting, done]
    todo = (await jobs_client.get("/api/v1/jobs", params={"status": "todo"})).json()
    assert [(j["id"], j["task"], j["queue"]) for j in todo] == [(waiting, "tests:record", "later")]
    by_task = (await jobs_client.get("/api/v1/jobs", params={"task": "tests:flaky"})).json()
    assert [j["id"] for j in by_task] == [done]
    assert (await jobs_client.get("/api/v1/jobs", params={"limit": 1})).json()[0]["id"] == waiting

    detail = (await jobs_client.get(f"/api/v1/jobs/{done}")).json()
    assert (detail["status"], detail["attempts"], detail["args"]) == ("succeeded", 3, {"key": "x"})
    assert detail["deferred_at"] and detail["finished_at"]
    types = [e["type"] for e in detail["events"]]
    assert types[0] == "deferred" and types[-1] == "succeeded"
    assert types.count("started") == 3


async def test_jobs_errors(jobs_client: httpx.AsyncClient):
    missing = await jobs_client.get("/api/v1/jobs/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (await jobs_client.get("/api/v1/jobs", params={"status": "nope"})).status_code == 422
