"""Two-process mode: the Planner reaches a real Memory Gateway (`almanac serve memory`)
over HTTP. Paused (SIGSTOP), answering 5xx or garbage, or gone, the Planner still plans
within its deadline, says the plan lacks memory and why, and /health names the Gateway."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.app import create_app
from almanac.config import ServerSettings
from almanac.db.uow import UnitOfWork
from almanac.deps import get_state
from almanac.errors import AlmanacError
from almanac.jobs.context import set_state
from almanac.memory.client import HttpMemoryClient
from almanac.memory.port import memory_port
from almanac.models import Workflow
from almanac.planner.context import REMEMBER_TASK, remember_queued_plan
from almanac.planner.repository import PlanRepository
from almanac.planner.tasks import remember_plan as remember_plan_job
from almanac.state import AppState
from tests.conftest import TEST_ADMIN_KEY, http_client, ok
from tests.doubles.loopback import JSONHandler, Loopback
from tests.live_server import free_port, server_env, wait_healthy
from tests.planner.conftest import library

__all__ = ["library"]  # the planner tests' workflows (rolled back with each test)

DEADLINE = 1.0  # the Gateway's deadline while it is paused (the hostile part only)
# Every other call has the default deadline: a Gateway that answers must not miss a short
# one on a loaded machine (the first plan of the paused test did, under 1 s).
ORDINARY = ServerSettings().memory_gateway_timeout_seconds
# Past this a plan is taken to wait for the paused Gateway (it never answers).
HANG = 60.0
PLAN = "/api/v1/planner/plan"


@pytest.fixture(scope="module")
def gateway(pg_url: str, tmp_root: Path, engine: AsyncEngine) -> Iterator[subprocess.Popen[bytes]]:
    """A real Memory Gateway process on the suite's database (`engine`: migrated, keyed)."""
    port = free_port()
    data_dir = tmp_root / "gateway-hop"
    data_dir.mkdir(exist_ok=True)
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 (closed below)
    # No workflow library either (server_env): it would stay in the database.
    env = server_env(pg_url, data_dir, port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "almanac", "serve", "memory", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        wait_healthy(proc.url, proc, data_dir / "serve.log")  # type: ignore[attr-defined]
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def _planner_on(
    state: AppState, url: str, key: str = TEST_ADMIN_KEY, deadline: float = ORDINARY
) -> AsyncIterator[AppState]:
    server = state.settings.server.model_copy(
        update={
            "memory_gateway_url": url,
            "memory_gateway_key": SecretStr(key),
            "memory_gateway_timeout_seconds": deadline,
        }
    )
    state.settings = state.settings.model_copy(update={"server": server})
    state.services = ["planner"]
    try:
        yield state
    finally:
        await _reconnect(state)


async def _reconnect(state: AppState, deadline: float | None = None) -> None:
    """Drop the Planner's Gateway client (the next call connects anew, with `deadline`
    if given: the client reads it when it connects)."""
    if deadline is not None:
        server = state.settings.server.model_copy(
            update={"memory_gateway_timeout_seconds": deadline}
        )
        state.settings = state.settings.model_copy(update={"server": server})
    if state.memory is not None:
        await state.memory.close()
    state.memory = None


@pytest.fixture
async def planner(
    committed_state: AppState, gateway: subprocess.Popen[bytes]
) -> AsyncIterator[AppState]:
    """The Planner on the real Gateway; what the Gateway commits (the plans it remembers)
    is emptied afterwards (`committed_state`)."""
    async for s in _planner_on(committed_state, gateway.url):  # type: ignore[attr-defined]
        yield s


async def _plan(client: httpx.AsyncClient) -> dict[str, Any]:
    # (Bounded only against a hang: the deadline itself is what the plan's notes name.)
    r = await asyncio.wait_for(client.post(PLAN, json={"intent": "onboard a new client"}), HANG)
    body: dict[str, Any] = await ok(r, 201)
    return body


async def _gateway_entry(client: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    r = await asyncio.wait_for(client.get("/health"), HANG)
    assert r.status_code == 200, r.text  # the Planner is usable without memory
    body = r.json()
    return body["dependencies"]["memory_gateway"], body["status"]


async def test_a_paused_gateway_degrades_plans_within_the_deadline_and_health_names_it(
    planner: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    library: dict[str, Workflow],
):
    where = f"Memory Gateway at {gateway.url}"  # type: ignore[attr-defined]
    plan = await _plan(client)
    assert "memory" not in plan["degraded"], plan
    entry, _ = await _gateway_entry(client)
    assert entry["status"] == "ok" and entry["detail"] == where

    _set_deadline(planner, DEADLINE)  # for the pause only, on the client already connected
    os.kill(gateway.pid, signal.SIGSTOP)
    try:
        # Answered while the Gateway is still paused (it never answers then), and the
        # notes name the deadline that cut the wait.
        plan = await _plan(client)
        assert plan["degraded"] == ["memory"]
        said = " ".join(plan["notes"])
        assert f"{where} did not answer within {DEADLINE:g} s" in said
        assert "planned without recalled memories" in said
        assert "not yet remembered" in said and "queued" in said
        entry, overall = await _gateway_entry(client)
        assert overall == "degraded" and entry["status"] == "degraded"
        assert entry["detail"].startswith(f"{where} did not answer"), entry
        assert gateway.poll() is None  # still paused, not gone: the answers did not wait
    finally:
        os.kill(gateway.pid, signal.SIGCONT)

    # Back: the same client asks again once the window in which a Gateway that did not
    # answer is not asked again (one deadline) has passed.
    _set_deadline(planner, ORDINARY)
    time.sleep(ORDINARY)
    plan = await _plan(client)
    assert "memory" not in plan["degraded"], plan
    entry, _ = await _gateway_entry(client)
    assert entry["status"] == "ok"


def _set_deadline(state: AppState, seconds: float) -> None:
    """The Planner's Gateway deadline, on the client it already has."""
    memory = state.memory
    assert isinstance(memory, HttpMemoryClient)
    memory.deadline = seconds
    memory.client.timeout = httpx.Timeout(seconds)


class _Broken(JSONHandler):
    """A Gateway whose every answer is `status` with an HTML body (a proxy's error page)."""

    status = 502

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        self._html()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._html()

    def _html(self) -> None:
        data = b"<html><body>Bad gateway</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Garbage(_Broken):
    status = 200  # "OK", but not the API's JSON


@pytest.mark.parametrize(("handler", "said"), [(_Broken, "answered 502"), (_Garbage, "not JSON")])
async def test_a_gateway_answering_5xx_or_garbage_degrades_plans_never_500(
    state: AppState,
    client: httpx.AsyncClient,
    library: dict[str, Workflow],
    handler: type[_Broken],
    said: str,
):
    loop = Loopback(handler, "broken-gateway")
    url = loop.base_url.removesuffix("/v1")
    try:
        async for _ in _planner_on(state, url):
            plan = await _plan(client)
            assert plan["degraded"] == ["memory"]
            assert said in " ".join(plan["notes"]), plan["notes"]
            entry, overall = await _gateway_entry(client)
            assert overall == "degraded" and entry["status"] == "degraded"
            assert f"Memory Gateway at {url}" in entry["detail"], entry
            # /health names what the plan's note names ("answered 200" said nothing wrong).
            assert said in entry["detail"], entry
    finally:
        loop.close()


async def test_a_gateway_behind_a_proxy_login_still_gets_the_planners_key(
    committed_state: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    library: dict[str, Workflow],
):
    """A Gateway URL with a proxy's login in it (`http://user:pass@host`, the password
    masked in notes and /health) made httpx send `Authorization: Basic`, which replaced the
    Planner's Bearer key: every call was refused. The key goes as X-API-Key beside it."""
    url = gateway.url.replace("http://", "http://proxy:s3cret-pass@")  # type: ignore[attr-defined]
    async for _ in _planner_on(committed_state, url):
        plan = await _plan(client)
        assert "memory" not in plan["degraded"], plan
        entry, _ = await _gateway_entry(client)
        assert entry["status"] == "ok", entry
        assert "s3cret-pass" not in entry["detail"] and "proxy:***@" in entry["detail"]


async def test_a_gateway_refusing_the_planners_key_is_degraded_in_health(
    committed_state: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    library: dict[str, Workflow],
):
    """The Gateway answers its public /health to anyone (the summary, `ok`), so a Planner
    whose key it refuses showed `memory_gateway: ok` while every memory call failed."""
    url = gateway.url  # type: ignore[attr-defined]
    async for _ in _planner_on(committed_state, url, key="alm_not-a-key-the-gateway-knows"):
        plan = await _plan(client)
        assert plan["degraded"] == ["memory"], plan
        entry, status = await _gateway_entry(client)
        assert entry["status"] == "degraded" and status == "degraded", entry
        assert "server.memory_gateway_key" in entry["detail"], entry


# -- a plan made while the Gateway is down is remembered later ---------------------------------


async def _plan_memories(engine: AsyncEngine, plan_id: int) -> list[tuple[int, str]]:
    """The Gateway's committed memories of plan `plan_id` (its key, or the key plus a digest
    a changed memory would get)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, idempotency_key FROM events WHERE idempotency_key = :key "
                "OR idempotency_key LIKE :changed ORDER BY id"
            ),
            {"key": f"plan:{plan_id}", "changed": f"plan:{plan_id}:%"},
        )
        return [(int(i), str(k)) for i, k in rows]


async def _queued(db_session: AsyncSession) -> list[dict[str, Any]]:
    rows = await db_session.execute(
        text("SELECT args FROM procrastinate_jobs WHERE task_name = :task AND status = 'todo'"),
        {"task": REMEMBER_TASK},
    )
    return [dict(a) for (a,) in rows]


async def _plan_while_paused(
    state: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    client_id: int | None,
) -> dict[str, Any]:
    await _reconnect(state, DEADLINE)
    os.kill(gateway.pid, signal.SIGSTOP)
    try:
        body = {"intent": "onboard a new client", "client_id": client_id}
        plan: dict[str, Any] = await ok(await client.post(PLAN, json=body), 201)
    finally:
        os.kill(gateway.pid, signal.SIGCONT)
    # A new client for what follows: the Gateway answers, with the default deadline (and
    # no window in which the one that did not answer is not asked again).
    await _reconnect(state, ORDINARY)
    return plan


async def _run_job(state: AppState, session: AsyncSession, plan_id: int) -> bool:
    """The queued job's work on the test's transaction, retried as the worker would while
    the Gateway just back from its pause still works through what it was sent meanwhile."""
    uow = UnitOfWork(session)
    for _ in range(5):
        try:
            return await remember_queued_plan(uow, memory_port(uow, state), plan_id)
        except AlmanacError as exc:
            if exc.status_code != 503:
                raise
            time.sleep(DEADLINE)
    return await remember_queued_plan(uow, memory_port(uow, state), plan_id)


async def test_a_plan_made_while_the_gateway_is_down_is_remembered_once_it_is_back(
    planner: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    engine: AsyncEngine,
    library: dict[str, Workflow],
):
    """Before, the plan was saved and its memory never written: the answer said later plans
    would not recall it. Now remembering it is queued with the plan, and the job writes it
    under the plan's key once the Gateway answers, once however often it runs."""
    # The user's own plan: a client's would have the Gateway wait on the client's graph node
    # this test's transaction (never committed) made with the plan.
    plan = await _plan_while_paused(planner, gateway, client, None)
    assert plan["degraded"] == ["memory"]
    said = " ".join(plan["notes"])
    assert "remembering it is queued" in said
    assert "retried, for about a day, until the Memory Gateway" in said
    assert await _queued(db_session) == [{"plan_id": plan["id"]}]
    assert await _plan_memories(engine, plan["id"]) == []

    assert await _run_job(planner, db_session, plan["id"]) is True
    stored = await _plan_memories(engine, plan["id"])
    assert [k for _, k in stored] == [f"plan:{plan['id']}"]
    assert await _run_job(planner, db_session, plan["id"]) is True
    assert await _plan_memories(engine, plan["id"]) == stored  # a rerun stores nothing twice
    again = await ok(await client.get(f"/api/v1/planner/plans/{plan['id']}"), 200)
    said = " ".join(again["notes"])  # it said "not yet remembered" for good
    assert "not yet remembered" not in said and "remembered later" in said

    # The Gateway recalls it as a past plan, as a later plan asks (a generous deadline here:
    # how fast it answers on a loaded machine is not what this test is about).
    past = httpx.get(
        gateway.url + "/api/v1/memory/recall",  # type: ignore[attr-defined]
        params={"query": "onboard a new client", "event_type": "plan", "kinds": "event"},
        headers={"Authorization": f"Bearer {TEST_ADMIN_KEY}"},
        timeout=60,
    )
    assert past.status_code == 200, past.text
    assert [r["id"] for r in past.json()["results"]] == [stored[0][0]]


async def test_a_queued_plan_memory_is_retried_until_the_gateway_takes_it_and_stored_once(
    planner: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    engine: AsyncEngine,
    library: dict[str, Workflow],
):
    """The job fails while the Gateway is still down (the worker retries it with backoff);
    the Gateway may still take the attempt it did not answer in time, and the retry that
    succeeds leaves one memory, not two."""
    plan = await _plan_while_paused(planner, gateway, client, None)
    uow = UnitOfWork(db_session)
    await _reconnect(planner, DEADLINE)
    os.kill(gateway.pid, signal.SIGSTOP)
    try:
        with pytest.raises(AlmanacError) as failed:
            await remember_queued_plan(uow, memory_port(uow, planner), plan["id"])
    finally:
        os.kill(gateway.pid, signal.SIGCONT)
    await _reconnect(planner, ORDINARY)
    assert failed.value.status_code == 503
    # Edited before the retry: the retry still sends the plan as drafted, which is what the
    # attempt the Gateway may have taken said (a changed one would be a second memory).
    edited = {"plan_title": "Renamed while the Gateway was away", "version": 1}
    await ok(await client.put(f"/api/v1/planner/plans/{plan['id']}", json=edited))
    assert await _run_job(planner, db_session, plan["id"]) is True
    assert [k for _, k in await _plan_memories(engine, plan["id"])] == [f"plan:{plan['id']}"]


async def test_a_queued_plan_memory_does_not_bring_back_a_forgotten_client(
    planner: AppState,
    gateway: subprocess.Popen[bytes],
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    engine: AsyncEngine,
    library: dict[str, Workflow],
):
    """The client is forgotten (its plans deleted) before the job runs: the job finds the
    plan gone and writes nothing, so the forgotten plan does not come back as a memory."""
    plan = await _plan_while_paused(planner, gateway, client, 7303)
    deleted, _ = await PlanRepository(db_session).delete_for_client(7303)
    assert deleted == [plan["id"]]
    assert await _run_job(planner, db_session, plan["id"]) is False
    assert await _plan_memories(engine, plan["id"]) == []


class _ReadOnly(JSONHandler):
    """A Gateway that knows the Planner's key but lets it read only: writes are a 403."""

    asked_me = 0

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        if self.path == "/health":
            self._send(200, {"status": "ok", "dependencies": {}})
        elif self.path == "/api/v1/auth/me":
            type(self).asked_me += 1
            self._send(200, {"name": "planner", "scope": "read", "via": "key"})
        else:
            self._send(404, {"detail": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(403, {"detail": "key 'planner' has scope 'read'; POST needs 'write'"})


async def test_a_gateway_taking_a_read_only_key_is_degraded_in_health(
    state: AppState, client: httpx.AsyncClient, library: dict[str, Workflow]
):
    """The key is valid, so the Gateway's /health answered `ok` in full and the Planner's
    /health said `memory_gateway: ok`, while remembering every plan was a 503."""
    _ReadOnly.asked_me = 0
    loop = Loopback(_ReadOnly, "read-only-gateway")
    try:
        async for _ in _planner_on(state, loop.base_url.removesuffix("/v1")):
            for _ in range(3):
                entry, overall = await _gateway_entry(client)
                assert entry["status"] == "degraded" and overall == "degraded", entry
                assert "scope 'read'" in entry["detail"], entry
                assert "scope write" in entry["detail"], entry
            assert _ReadOnly.asked_me == 1  # asked once, not on every /health
    finally:
        loop.close()


class _MeFailsFirst(_ReadOnly):
    """A read-only Gateway whose /api/v1/auth/me fails the first time it is asked (its
    database a moment away while /health still answers)."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        if self.path == "/api/v1/auth/me" and type(self).asked_me == 0:
            type(self).asked_me += 1
            self._send(503, {"detail": "database unavailable"})
        else:
            super().do_GET()


async def test_a_failed_first_look_at_the_key_is_asked_again(
    state: AppState, client: httpx.AsyncClient, library: dict[str, Workflow]
):
    """A 503 from /api/v1/auth/me at the first /health counted as the key's answer: the
    key was never asked about again, and /health said ok for a read-only key from then on."""
    _MeFailsFirst.asked_me = 0
    loop = Loopback(_MeFailsFirst, "read-only-gateway-me-fails")
    try:
        async for _ in _planner_on(state, loop.base_url.removesuffix("/v1")):
            # (A few: on a loaded machine one /health may miss the Gateway's deadline.)
            for _ in range(5):
                entry, overall = await _gateway_entry(client)
                if _MeFailsFirst.asked_me >= 2 and "scope 'read'" in entry["detail"]:
                    break
            assert entry["status"] == "degraded" and overall == "degraded", entry
            assert "scope 'read'" in entry["detail"], entry
    finally:
        loop.close()


async def test_a_plan_for_a_new_client_does_not_wait_on_its_own_graph_node(
    planner: AppState,
    gateway: subprocess.Popen[bytes],
    engine: AsyncEngine,
):
    """The first plan for a client made the client's graph node in the plan's transaction,
    then asked the Gateway to remember the plan in that transaction: the Gateway's insert of
    the same node waited for it, so the plan waited out the Gateway's deadline and came back
    degraded, and the timeout kept the Gateway from being asked for a while after. The
    memory is now queued with the plan and written once the plan is committed."""
    app = create_app(state=planner)
    app.dependency_overrides[get_state] = lambda: planner
    steps = [
        {
            "id": "s",
            "title": "Kick off",
            "tasks": [{"id": "k", "title": "Call", "estimate_hours": 1}],
        }
    ]
    async with http_client(app) as committed:
        workflow = await ok(
            await committed.post(
                "/api/v1/planner/workflows", json={"name": "Onboarding", "steps": steps}
            ),
            201,
        )
        body = {"intent": "onboard a new client", "client_id": 9301, "workflow_id": workflow["id"]}
        r = await asyncio.wait_for(committed.post(PLAN, json=body), HANG)
        plan = await ok(r, 201)
        assert plan["degraded"] == [], plan["notes"]
        # The Gateway is asked at once by the next plan (not kept out by a timeout).
        body = {"intent": "a second one", "workflow_id": workflow["id"]}
        again = await ok(await committed.post(PLAN, json=body), 201)
        assert again["degraded"] == [], again["notes"]
    async with engine.connect() as conn:
        queued = await conn.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :task"),
            {"task": REMEMBER_TASK},
        )
        assert {"plan_id": plan["id"]} in [dict(a) for (a,) in queued]
    set_state(planner)
    try:
        await remember_plan_job.func(plan_id=plan["id"])  # type: ignore[attr-defined]
    finally:
        set_state(None)
    stored = await _plan_memories(engine, plan["id"])
    assert [k for _, k in stored] == [f"plan:{plan['id']}"]
    async with engine.connect() as conn:
        owner = await conn.scalar(
            text("SELECT client_id FROM events WHERE id = :id"), {"id": stored[0][0]}
        )
    assert owner == 9301
