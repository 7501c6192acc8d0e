"""A deletion holds against the writes still queued for what it deleted: a job that runs after
the forget (queued, or a retry) brings nothing back, in Postgres or in Zep (the double)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import text

from almanac.memory.external.sync import send_event, send_fact
from almanac.observer import tasks as observer_tasks
from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep, ZepFact
from tests.memory.external.test_zep import closed_port_url, configure
from tests.memory.external.test_zep_forget import (
    close,
    everything_zep_holds,
    forget,
    remember,
    run_queued_forget,
)
from tests.memory.test_forget_everywhere import tables_holding

QUEUED = text(
    "SELECT task_name, args FROM procrastinate_jobs WHERE status = 'todo' "
    "AND task_name <> 'almanac:zep_forget' ORDER BY id"
)


async def queued(state: AppState) -> list[tuple[str, dict[str, Any]]]:
    async with state.engine.connect() as conn:
        return [(r[0], dict(r[1])) for r in await conn.execute(QUEUED)]


DONE = text(
    "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'todo' "
    "AND task_name = :task AND args = CAST(:args AS jsonb)"
)


async def run_jobs(state: AppState, jobs: list[tuple[str, dict[str, Any]]]) -> None:
    """What the worker does with these queued jobs (each task's own code; then done)."""
    for task, args in jobs:
        async with state.engine.begin() as conn:
            await conn.execute(DONE, {"task": task, "args": json.dumps(args)})
        if task == "observer:import_zep_facts":
            await observer_tasks.run_import_zep_facts(**args)
        elif task == "almanac:zep_send":
            await send_event(state, **args)
        elif task == "almanac:zep_fact":
            await send_fact(state, **args)


async def test_a_queued_zep_import_brings_nothing_of_a_forgotten_client_back(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    eid = await remember(api, content="Acme's CFO is Dana Reyes", client_id=6)
    r = await api.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "6",
            "fact_type": "preference",
            "content": "Acme wants invoices in CHF",
            "client_id": 6,
        },
    )
    fact_id = r.json()["fact"]["id"]
    try:
        assert await send_event(state, eid) is True  # queues the import of Zep's facts
    finally:
        await close(state)
    # What Zep extracted from the message meanwhile.
    zep.facts["client-6"] = [ZepFact("Dana Reyes is Acme's CFO", name="HAS_CFO")]
    kinds = {task for task, _ in await queued(state)}
    assert {"observer:import_zep_facts", "almanac:zep_fact"} <= kinds

    configure(state, closed_port_url())  # Zep is down: its deletion waits in the queue
    try:
        out = await forget(api, "client/6")
    finally:
        await close(state)
    assert out["zep"] == "queued"
    left = await queued(state)

    # Zep is back. The worker runs what is still queued, in its order (the import was
    # queued first); an import already under way, or retried, runs too.
    configure(state, zep.base_url)
    observer_tasks.set_state(state)
    try:
        await run_jobs(state, left)
        assert await observer_tasks.run_import_zep_facts(6) == 0
        assert await send_event(state, eid) is False
        assert await send_fact(state, fact_id) is False
        await run_queued_forget(state)
    finally:
        observer_tasks.set_state(None)
        await close(state)
    assert await tables_holding(state, "Dana Reyes") == []
    assert await tables_holding(state, "CHF") == []
    assert "client-6" not in zep.users
    assert "Dana Reyes" not in everything_zep_holds(zep)
    # Nothing queued for the forgotten client was left to run (ids or the client's user).
    assert not [
        (task, args)
        for task, args in left
        if args.get("client_id") == 6
        or args.get("event_id") == eid
        or args.get("fact_id") == fact_id
    ], left


async def test_a_live_clients_import_still_runs(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """The re-check lets an import through while the client has memories in Zep, and
    again for a client remembered anew after being forgotten."""
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    observer_tasks.set_state(state)
    try:
        eid = await remember(api, content="Globex moved to Leeds", client_id=7)
        assert await send_event(state, eid) is True
        zep.facts["client-7"] = [ZepFact("Globex is based in Leeds", name="BASED_IN")]
        assert await observer_tasks.run_import_zep_facts(7) == 1
        await forget(api, "client/7")
        await run_queued_forget(state)  # the worker runs Zep's deletion at once
        observer_tasks.set_state(state)  # (which unset the worker's state)
        again = await remember(api, content="Globex moved to York", client_id=7)
        assert await send_event(state, again) is True
        zep.facts["client-7"] = [ZepFact("Globex is based in York", name="BASED_IN")]
        assert await observer_tasks.run_import_zep_facts(7) == 1
    finally:
        observer_tasks.set_state(None)
        await close(state)
    assert await tables_holding(state, "Leeds") == []
    assert await tables_holding(state, "York") != []


async def test_deleting_one_memory_or_fact_leaves_no_job_or_word_of_it(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    try:
        eid = await remember(api, content="Initech's door code is 4417", client_id=9)
        assert ("almanac:zep_send", {"event_id": eid}) in await queued(state)
        r = await api.delete(f"/api/v1/memory/events/{eid}")
        assert r.status_code in (200, 204), r.text
        assert not [a for _, a in await queued(state) if a.get("event_id") == eid]
        assert await send_event(state, eid) is False  # a send already under way re-checks
    finally:
        await close(state)
    assert "4417" not in everything_zep_holds(zep)
    assert await tables_holding(state, "4417") == []  # nor its words (search_terms)

    # One already in Zep leaves Zep too; what its thread also held is sent again.
    configure(state, zep.base_url)
    try:
        sent = await remember(api, content="Initech's alarm code is 5521", session_id="ops")
        kept = await remember(api, content="Initech's office opens at 8", session_id="ops")
        assert await send_event(state, sent) is True
        assert await send_event(state, kept) is True
        r = await api.delete(f"/api/v1/memory/events/{sent}")
        assert r.status_code in (200, 204), r.text
        assert "5521" not in everything_zep_holds(zep)
        await run_queued_forget(state)
        resend = {a["event_id"] for t, a in await queued(state) if t == "almanac:zep_send"}
        assert resend == {kept}
        assert await send_event(state, kept) is True
    finally:
        await close(state)
    assert "opens at 8" in everything_zep_holds(zep)
    assert "5521" not in everything_zep_holds(zep)

    fact = {"subject_type": "person", "subject_id": "ann", "fact_type": "identity"}
    r = await api.post("/api/v1/memory/facts", json={**fact, "content": "Ann's PIN is 8852"})
    assert r.status_code == 201, r.text
    assert await tables_holding(state, "8852") != []
    r = await api.delete(f"/api/v1/memory/facts/{r.json()['fact']['id']}")
    assert r.status_code in (200, 204), r.text
    assert await tables_holding(state, "8852") == []


async def test_a_thread_sent_again_after_a_delete_holds_each_memory_once(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """Zep deletes a thread but keeps what its graph learnt from it (an episode per
    message): a memory sent again after a delete in its thread is in Zep once, not twice."""
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    try:
        gone = await remember(api, content="Hooli's vault code is 7731", session_id="desk")
        kept = await remember(api, content="Hooli's lobby closes at six", session_id="desk")
        assert await send_event(state, gone) is True
        assert await send_event(state, kept) is True
        r = await api.delete(f"/api/v1/memory/events/{gone}")
        assert r.status_code in (200, 204), r.text
        await run_queued_forget(state)
        assert await send_event(state, kept) is True  # the thread's survivor, sent again
    finally:
        await close(state)
    held = everything_zep_holds(zep)
    assert "7731" not in held
    assert held.count("lobby closes at six") == 1, held


async def test_deleting_one_fact_already_in_zep_deletes_it_there(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    try:
        fact = {"subject_type": "person", "subject_id": "bo", "fact_type": "identity"}
        r = await api.post("/api/v1/memory/facts", json={**fact, "content": "Bo's PIN is 6604"})
        assert r.status_code == 201, r.text
        fact_id = r.json()["fact"]["id"]
        assert await send_fact(state, fact_id) is True
        assert "6604" in everything_zep_holds(zep)
        r = await api.delete(f"/api/v1/memory/facts/{fact_id}")
        assert r.status_code in (200, 204), r.text
        assert not [a for _, a in await queued(state) if a.get("fact_id") == fact_id]
        await run_queued_forget(state)
    finally:
        await close(state)
    assert "6604" not in everything_zep_holds(zep)


def message_uuid(zep: FakeZep, content: str) -> str:
    """The uuid Zep gave the message (its episode in the user's graph)."""
    return next(m["uuid"] for m in zep.messages() if m["content"] == content)


async def test_an_owner_import_brings_nothing_of_a_forgotten_person_back(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """A person is no client: the owner's import of Zep's facts, queued before the forget
    (or under way, or retried) and run once Zep is back but before Zep's own deletion,
    must not bring what Zep extracted about the person back into Postgres; the import
    after the deletion brings the owner's other facts, and nothing of the person."""
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    person = {"subject_type": "person", "subject_id": "dana"}
    eid = await remember(api, content="Dana Reyes lives in Bern", metadata=person)
    kept = await remember(api, content="The owner's office moved to Basel", session_id="own")
    try:
        assert await send_event(state, eid) is True  # queues the owner's import
        assert await send_event(state, kept) is True
    finally:
        await close(state)
    owner = state.settings.zep.default_user_id
    zep.facts[owner] = [
        ZepFact(
            "Dana Reyes lives in Bern",
            name="LIVES_IN",
            subject="Dana",
            episodes=[message_uuid(zep, "Dana Reyes lives in Bern")],
        ),
        ZepFact(
            "The office is in Basel",
            name="LOCATED_IN",
            subject="Office",
            episodes=[message_uuid(zep, "The owner's office moved to Basel")],
        ),
    ]
    assert ("observer:import_zep_facts", {"client_id": None}) in await queued(state)

    configure(state, closed_port_url())  # Zep is down: its deletion waits in the queue
    try:
        out = await forget(api, "person/dana")
    finally:
        await close(state)
    assert out["zep"] == "queued"
    left = await queued(state)

    # Zep is back; the worker runs the import queued first, before Zep's deletion.
    configure(state, zep.base_url)
    observer_tasks.set_state(state)
    try:
        await run_jobs(state, left)
        assert await observer_tasks.run_import_zep_facts(None) == 0  # one under way
        assert await tables_holding(state, "Bern") == []
        await run_queued_forget(state)
        # The deletion queues the import that waited for it.
        assert ("observer:import_zep_facts", {"client_id": None}) in await queued(state)
        observer_tasks.set_state(state)
        assert await observer_tasks.run_import_zep_facts(None) == 1  # the next import
    finally:
        observer_tasks.set_state(None)
        await close(state)
    assert await tables_holding(state, "Bern") == []
    assert "facts.content" in await tables_holding(state, "Basel")
    assert "Bern" not in everything_zep_holds(zep)


async def test_a_clients_import_brings_nothing_of_a_forgotten_person_back(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """A person's memory filed under a client went to the client's Zep user; the client
    is not forgotten (its other memories stay in Zep), yet its import, run before Zep's
    deletion, brings nothing of the person back either."""
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    person = {"subject_type": "person", "subject_id": "lee"}
    eid = await remember(api, content="Lee Park banks in Zug", metadata=person, client_id=11)
    kept = await remember(
        api, content="Umbrella Corp ships from Kiel", client_id=11, session_id="ops"
    )
    try:
        assert await send_event(state, eid) is True
        assert await send_event(state, kept) is True
    finally:
        await close(state)
    zep.facts["client-11"] = [
        ZepFact(
            "Lee Park banks in Zug",
            name="BANKS_IN",
            subject="Lee",
            episodes=[message_uuid(zep, "Lee Park banks in Zug")],
        ),
        ZepFact(
            "Umbrella Corp ships from Kiel",
            name="SHIPS_FROM",
            subject="Umbrella",
            episodes=[message_uuid(zep, "Umbrella Corp ships from Kiel")],
        ),
    ]
    configure(state, closed_port_url())
    try:
        assert (await forget(api, "person/lee"))["zep"] == "queued"
    finally:
        await close(state)
    left = await queued(state)

    configure(state, zep.base_url)
    observer_tasks.set_state(state)
    try:
        await run_jobs(state, left)
        assert await observer_tasks.run_import_zep_facts(11) == 0
        assert await tables_holding(state, "Zug") == []
        await run_queued_forget(state)
        assert ("observer:import_zep_facts", {"client_id": 11}) in await queued(state)
        observer_tasks.set_state(state)
        assert await observer_tasks.run_import_zep_facts(11) == 1
    finally:
        observer_tasks.set_state(None)
        await close(state)
    assert await tables_holding(state, "Zug") == []
    assert "facts.content" in await tables_holding(state, "Kiel")
