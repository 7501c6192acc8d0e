"""Forgetting reaches Zep: through the real `zep-cloud` SDK against the local double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text

from almanac.memory import tasks
from almanac.memory.external.sync import send_event, send_fact
from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep
from tests.memory.external.test_zep import closed_port_url, configure

FORGET_JOBS = text(
    "SELECT id, args FROM procrastinate_jobs WHERE task_name = 'almanac:zep_forget' ORDER BY id"
)
JOB_DONE = text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = :id")
SEND_JOBS = text(
    "SELECT args->>'event_id' FROM procrastinate_jobs "
    "WHERE task_name = 'almanac:zep_send' AND status = 'todo' ORDER BY id"
)


async def remember(client: httpx.AsyncClient, **body: Any) -> int:
    r = await client.post("/api/v1/memory/remember", json={"salience_score": 0.9, **body})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def forget(client: httpx.AsyncClient, subject: str) -> dict[str, Any]:
    r = await client.delete(f"/api/v1/memory/subjects/{subject}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def run_queued_forget(state: AppState) -> None:
    """What the worker does with the queued job (the task's own code, then the job is
    marked done: an import of Zep's facts waits while a deletion there is to do)."""
    async with state.engine.connect() as conn:
        jobs = list(await conn.execute(FORGET_JOBS))
    assert len(jobs) == 1
    tasks.set_state(state)
    try:
        await tasks.zep_forget(**jobs[0][1])
    finally:
        tasks.set_state(None)
    async with state.engine.begin() as conn:
        await conn.execute(JOB_DONE, {"id": jobs[0][0]})


def everything_zep_holds(zep: FakeZep) -> str:
    texts = [m["content"] for m in zep.messages()]
    texts += [e["content"] for eps in zep.episodes.values() for e in eps]
    return "\n".join(texts)


async def close(state: AppState) -> None:
    if state.external is not None:
        await state.external.close()
        state.external = None


@asynccontextmanager
async def zep_at(state: AppState, base_url: str) -> AsyncIterator[None]:
    """Almanac configured for the Zep at `base_url` (a closed port: Zep is down) for a
    step, its client closed after it, so the next step builds one for its own Zep."""
    configure(state, base_url)
    try:
        yield
    finally:
        await close(state)


async def test_forgetting_a_client_deletes_its_zep_user_threads_and_graph(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    configure(committed_state, zep.base_url)
    other = await remember(committed_client, content="Globex pays on time", client_id=8)
    mine = await remember(
        committed_client, content="Acme's CFO is Dana Reyes", client_id=6, session_id="call"
    )
    fact = {
        "subject_type": "client",
        "subject_id": "6",
        "fact_type": "preference",
        "content": "Acme wants invoices in CHF",
        "client_id": 6,
    }
    r = await committed_client.post("/api/v1/memory/facts", json=fact)
    fact_id = r.json()["fact"]["id"]
    try:
        assert await send_event(committed_state, mine) is True
        assert await send_event(committed_state, other) is True
        assert await send_fact(committed_state, fact_id) is True
        assert "client-6" in zep.users and zep.episodes["client-6"]

        out = await forget(committed_client, "client/6")
        assert out["zep"] == "deleted" and out["zep_detail"] is None
        assert "client-6" not in zep.users
        assert not [t for t in zep.threads.values() if t["user_id"] == "client-6"]
        held = everything_zep_holds(zep)
        assert "Dana Reyes" not in held and "CHF" not in held
        assert "Globex pays on time" in held  # another client's memory stays

        # The queued job runs later anyway: everything is already gone, and that is fine.
        await run_queued_forget(committed_state)
        assert "client-8" in zep.users
    finally:
        await close(committed_state)


async def test_forgetting_a_person_deletes_their_messages_and_resends_the_rest(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    configure(committed_state, zep.base_url)
    ann = await remember(
        committed_client,
        content="Ann Lee's home address is 12 Elm Street",
        session_id="standup",
        metadata={"subject_type": "person", "subject_id": "ann"},
    )
    kept = await remember(
        committed_client, content="The standup moves to 9:30", session_id="standup"
    )
    try:
        assert await send_event(committed_state, ann) is True
        assert await send_event(committed_state, kept) is True
        ann_uuid = next(
            m["uuid"] for m in zep.messages() if m["metadata"]["almanac_event_id"] == str(ann)
        )

        out = await forget(committed_client, "person/ann")
        assert out["zep"] == "deleted"
        assert "Elm Street" not in everything_zep_holds(zep)
        assert ann_uuid in zep.deleted_episodes  # what Zep's graph learnt from it too
        assert "user.standup" not in zep.threads  # Zep deletes no single message

        # The job re-sends what the thread held that Almanac still keeps, and only that.
        await run_queued_forget(committed_state)
        async with committed_state.engine.connect() as conn:
            assert [int(i) for i in (await conn.execute(SEND_JOBS)).scalars()][-1:] == [kept]
        assert await send_event(committed_state, kept) is True
        assert [m["content"] for m in zep.messages("user.standup")] == ["The standup moves to 9:30"]
        assert "Elm Street" not in everything_zep_holds(zep)
    finally:
        await close(committed_state)


async def test_zep_down_queues_the_deletion_says_so_and_a_retry_finishes_it(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    configure(committed_state, zep.base_url)
    eid = await remember(committed_client, content="Initech's VPN code is 4417", client_id=9)
    try:
        assert await send_event(committed_state, eid) is True
    finally:
        await close(committed_state)

    configure(committed_state, closed_port_url())  # Zep is down
    try:
        out = await forget(committed_client, "client/9")
    finally:
        await close(committed_state)
    assert out["zep"] == "queued" and "unreachable" in out["zep_detail"]
    assert out["events_deleted"] == 1  # Almanac's own copy is gone regardless
    assert "client-9" in zep.users

    zep.fail_status = 503  # up again but failing: the job raises, so it is retried
    configure(committed_state, zep.base_url)
    try:
        try:
            await run_queued_forget(committed_state)
        except Exception as exc:
            assert "503" in str(exc)
        else:
            raise AssertionError("a failing Zep must fail the job, for a retry")
        zep.fail_status = None
        await run_queued_forget(committed_state)
        await run_queued_forget(committed_state)  # idempotent
    finally:
        await close(committed_state)
    assert "client-9" not in zep.users
    assert "4417" not in everything_zep_holds(zep)


async def test_without_zep_forgetting_says_off(client: httpx.AsyncClient) -> None:
    await remember(client, content="Hooli's code is 99", client_id=12)
    out = await forget(client, "client/12")
    assert out["zep"] == "off" and out["events_deleted"] == 1
