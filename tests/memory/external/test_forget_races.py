"""A deletion in Zep and the writes around it, run in a chosen order: what Almanac still
keeps ends up in Zep, whichever of a send and a deletion of its thread or user comes first.

The interleavings are made, not waited for (`tests.interleave`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from almanac.memory.external.factory import external_memory
from almanac.memory.external.sync import send_event, send_fact
from almanac.memory.forget_repository import ForgetRepository
from almanac.observer import tasks as observer_tasks
from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep, ZepFact
from tests.interleave import stop_inside
from tests.memory.external.test_forget_queued import queued, run_jobs
from tests.memory.external.test_zep import closed_port_url
from tests.memory.external.test_zep_forget import (
    everything_zep_holds,
    forget,
    remember,
    run_queued_forget,
    zep_at,
)


async def one_deleted_while_zep_is_down(
    api: httpx.AsyncClient, state: AppState, zep: FakeZep, *, send_kept: bool
) -> int:
    """Two memories remembered in the thread "desk" and sent to Zep (the second one only if
    `send_kept`); the first deleted while Zep is down, so the deletion of its thread waits
    in the queue. The id of the second, kept one."""
    async with zep_at(state, zep.base_url):  # remembered while on: their sends are queued
        gone = await remember(api, content="Hooli's vault code is 7731", session_id="desk")
        kept = await remember(api, content="Hooli's lobby closes at six", session_id="desk")
        assert await send_event(state, gone) is True
        if send_kept:
            assert await send_event(state, kept) is True
    async with zep_at(state, closed_port_url()):
        r = await api.delete(f"/api/v1/memory/events/{gone}")
        assert r.status_code in (200, 204), r.text
    return kept


async def run_queued_sends(state: AppState) -> None:
    await run_jobs(state, [(t, a) for t, a in await queued(state) if t == "almanac:zep_send"])


async def test_a_client_remembered_again_before_its_zep_deletion_is_sent_again(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """The queued deletion of a forgotten client's Zep user deletes, with it, what was
    sent there since (the client remembered again): that is sent again, not lost."""
    api, state = committed_client, committed_state
    async with zep_at(state, zep.base_url):
        old = await remember(api, content="Acme's CFO is Dana Reyes", client_id=6)
        assert await send_event(state, old) is True
    async with zep_at(state, closed_port_url()):  # Zep is down: the deletion waits in the queue
        assert (await forget(api, "client/6"))["zep"] == "queued"

    async with zep_at(state, zep.base_url):
        new = await remember(
            api, content="Acme's new CFO is Lou Grant", client_id=6, session_id="call"
        )
        fact = {
            "subject_type": "client",
            "subject_id": "6",
            "fact_type": "preference",
            "content": "Acme now pays in EUR",
            "client_id": 6,
        }
        r = await api.post("/api/v1/memory/facts", json=fact)
        assert r.status_code == 201, r.text
        fact_id = r.json()["fact"]["id"]
        sends = [
            (t, a) for t, a in await queued(state) if t in ("almanac:zep_send", "almanac:zep_fact")
        ]
        await run_jobs(state, sends)  # both reach Zep before its deletion runs
        assert "Lou Grant" in everything_zep_holds(zep)
        await run_queued_forget(state)  # deletes the user client-6, the new ones with it
        assert "Lou Grant" not in everything_zep_holds(zep)
        again = await queued(state)
        assert ("almanac:zep_send", {"event_id": new}) in again
        assert ("almanac:zep_fact", {"fact_id": fact_id}) in again
        assert await send_event(state, new) is True
        assert await send_fact(state, fact_id) is True
    held = everything_zep_holds(zep)
    assert "Lou Grant" in held and "EUR" in held
    assert "Dana Reyes" not in held


async def test_a_send_and_the_deletion_of_its_thread_do_not_interleave(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    zep: FakeZep,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A send already in Zep but not yet marked when the deletion of its thread runs (a
    memory deleted beside it): the memory is in the thread in the end."""
    api, state = committed_client, committed_state
    kept = await one_deleted_while_zep_is_down(api, state, zep, send_kept=False)

    async with zep_at(state, zep.base_url):
        provider = external_memory(state)
        # The deletion runs once the send's message is in Zep, before the send commits.
        deletion = stop_inside(
            monkeypatch, provider, "add_messages", lambda: run_queued_forget(state), state
        )
        assert await send_event(state, kept) is True
        assert len(deletion) == 1
        await deletion[0]
        # Whichever came first, the send is done again if its thread went after it.
        for _ in range(2):
            await run_queued_sends(state)
    in_threads = [m["content"] for m in zep.messages()]
    assert in_threads == ["Hooli's lobby closes at six"], in_threads
    assert "7731" not in everything_zep_holds(zep)


async def test_a_forget_does_not_wait_for_the_deletion_of_a_thread_in_zep(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    zep: FakeZep,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The queued deletion of a thread deletes its messages in Zep one call at a time (as
    many calls as the thread holds): the owner's data lock is not held through those
    calls, or every forget and delete waits for Zep meanwhile. What was sent into the
    thread during them is still sent again in the end."""
    api, state = committed_client, committed_state
    async with zep_at(state, zep.base_url):
        other = await remember(api, content="Initech moved to Austin", session_id="elsewhere")
    await one_deleted_while_zep_is_down(api, state, zep, send_kept=True)

    async with zep_at(state, zep.base_url):
        episodes = external_memory(state).client.graph.episode  # type: ignore[attr-defined]
        deletes = stop_inside(
            monkeypatch,
            episodes,
            "delete",
            lambda: api.delete(f"/api/v1/memory/events/{other}"),
            state,
        )
        await run_queued_forget(state)
        assert len(deletes) == 1
        done_first = deletes[0].done()
        r = await deletes[0]
        assert r.status_code in (200, 204), r.text
        await run_queued_sends(state)
    assert done_first is True
    in_threads = [m["content"] for m in zep.messages()]
    assert in_threads == ["Hooli's lobby closes at six"], in_threads


async def test_a_send_into_a_thread_being_deleted_is_in_zep_once(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    zep: FakeZep,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A memory sent into a thread while the queued deletion deletes its messages' graph
    episodes (no lock held) is in Zep once in the end: its episode goes with the thread,
    not left behind beside the copy sent again."""
    api, state = committed_client, committed_state
    await one_deleted_while_zep_is_down(api, state, zep, send_kept=True)

    async with zep_at(state, zep.base_url):
        late = await remember(api, content="Hooli's badge office moved upstairs", session_id="desk")
        episodes = external_memory(state).client.graph.episode  # type: ignore[attr-defined]
        sends = stop_inside(monkeypatch, episodes, "delete", lambda: send_event(state, late), state)
        await run_queued_forget(state)
        assert len(sends) == 1
        await sends[0]
        for _ in range(2):
            await run_queued_sends(state)
    held = everything_zep_holds(zep)
    assert held.count("badge office") == 1, held
    assert held.count("lobby closes") == 1, held
    assert "7731" not in held


async def import_past_its_check_then(
    monkeypatch: pytest.MonkeyPatch,
    state: AppState,
    client_id: int | None,
    delete: Callable[[], Awaitable[httpx.Response]],
) -> bool:
    """Run an import of Zep's facts; once it is past its check for a pending deletion, run
    `delete` until done or blocked. Whether the delete was done before the import went on."""
    deletes = stop_inside(monkeypatch, ForgetRepository, "zep_deletion_pending", delete, state)
    observer_tasks.set_state(state)
    try:
        assert await observer_tasks.run_import_zep_facts(client_id) == 1
    finally:
        observer_tasks.set_state(None)
    assert len(deletes) == 1
    done_first = deletes[0].done()
    r = await deletes[0]
    assert r.status_code in (200, 204), r.text
    return done_first


async def test_deleting_one_memory_waits_for_an_import_under_way(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    zep: FakeZep,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import of the owner's Zep facts past its check commits before a memory deleted
    meanwhile is (the owner's lock, as a forget takes it), not after it."""
    api, state = committed_client, committed_state
    async with zep_at(state, zep.base_url):
        eid = await remember(api, content="Dana Reyes lives in Bern", session_id="own")
        assert await send_event(state, eid) is True
        zep.facts[state.settings.zep.default_user_id] = [
            ZepFact("Dana Reyes lives in Bern", name="LIVES_IN", subject="Dana")
        ]
        done_first = await import_past_its_check_then(
            monkeypatch, state, None, lambda: api.delete(f"/api/v1/memory/events/{eid}")
        )
    assert done_first is False


async def test_deleting_one_fact_waits_for_its_clients_import_under_way(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    zep: FakeZep,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same for a client's fact and that client's import (the owner's lock, then the
    client's: the import holds the client's)."""
    api, state = committed_client, committed_state
    async with zep_at(state, zep.base_url):
        eid = await remember(api, content="Umbrella Corp ships from Kiel", client_id=12)
        assert await send_event(state, eid) is True
        fact = {
            "subject_type": "client",
            "subject_id": "12",
            "fact_type": "preference",
            "content": "Umbrella wants invoices in CHF",
            "client_id": 12,
        }
        r = await api.post("/api/v1/memory/facts", json=fact)
        assert r.status_code == 201, r.text
        fact_id = r.json()["fact"]["id"]
        zep.facts["client-12"] = [ZepFact("Umbrella ships from Kiel", name="SHIPS_FROM")]
        done_first = await import_past_its_check_then(
            monkeypatch, state, 12, lambda: api.delete(f"/api/v1/memory/facts/{fact_id}")
        )
    assert done_first is False


SCHEDULED = text(
    "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = 'almanac:zep_forget' ORDER BY id"
)


async def test_the_queued_deletion_runs_after_the_attempt_right_after_the_commit(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """The attempt after the commit holds no lock: the job, which does, must not run
    before it is over (else the attempt, late, deletes what the job had sent again)."""
    api, state = committed_client, committed_state
    async with zep_at(state, zep.base_url):
        gone = await remember(api, content="Hooli's vault code is 7731", session_id="desk")
        client = await remember(api, content="Acme's CFO is Dana Reyes", client_id=6)
        assert await send_event(state, gone) is True
        assert await send_event(state, client) is True
        r = await api.delete(f"/api/v1/memory/events/{gone}")
        assert r.status_code in (200, 204), r.text
        assert (await forget(api, "client/6"))["zep"] == "deleted"
        answered = datetime.now(UTC)  # both attempts are over
    async with state.engine.connect() as conn:
        scheduled = list((await conn.execute(SCHEDULED)).scalars())
    assert len(scheduled) == 2
    assert all(at is not None and at > answered for at in scheduled), (scheduled, answered)
