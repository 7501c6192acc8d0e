"""A memory or fact without a client id but about a client (subject `client:<id>`) is that
client's, as recall and the facts listing read it: it goes to that client's Zep user, so
what Zep learns from it comes back as that client's facts, never into the owner's user,
whose facts Almanac imports as the user's own (read by every client's plans)."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from almanac.memory.external.sync import send_event, send_fact
from almanac.state import AppState
from tests.conftest import ok
from tests.doubles.zep_cloud import FakeZep
from tests.memory.external.test_zep import configure

ABOUT = {"subject_type": "client", "subject_id": "8"}
SAID = "Dana from Acme wants weekly status calls"
PAYS = "Acme pays invoices within 10 days"


async def test_a_memory_and_a_fact_about_a_client_go_to_that_clients_zep_user(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    from almanac.observer import tasks as observer_tasks

    configure(committed_state, zep.base_url)
    zep.learn = True
    api = committed_client
    memory = {"content": SAID, "salience_score": 0.9, "metadata": ABOUT}
    event_id = (await ok(await api.post("/api/v1/memory/remember", json=memory), 201))["id"]
    fact = {**ABOUT, "fact_type": "preference", "content": PAYS}
    fact_id = (await ok(await api.post("/api/v1/memory/facts", json=fact), 201))["fact"]["id"]
    owner = committed_state.settings.zep.default_user_id
    observer_tasks.set_state(committed_state)
    try:
        assert await send_event(committed_state, event_id) is True
        assert await send_fact(committed_state, fact_id) is True
        assert {t["user_id"] for t in zep.threads.values()} == {"client-8"}
        assert set(zep.episodes) == {"client-8"}
        # What Zep learnt from the fact, imported for each user Almanac writes to.
        await observer_tasks.run_import_zep_facts(None)
        await observer_tasks.run_import_zep_facts(8)
    finally:
        observer_tasks.set_state(None)
        await committed_state.external.close()  # type: ignore[union-attr]
        committed_state.external = None
    assert owner not in zep.facts
    async with committed_state.engine.connect() as conn:
        imported = (
            await conn.execute(
                text("SELECT client_id FROM facts WHERE subject_type = 'zep_entity'")
            )
        ).all()
    assert imported == [(8,)]
    for scope, shown in ((8, True), (9, False), (0, False)):
        facts = await ok(await api.get("/api/v1/memory/facts", params={"for_client": scope}))
        learnt = [f for f in facts if f["content"].startswith("Zep learnt")]
        assert bool(learnt) == shown, (scope, facts)
