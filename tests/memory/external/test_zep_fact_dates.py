"""Zep's copy of a fact follows the fact's validity: once Almanac supersedes or ends a fact,
what Zep learnt from it gets its end (`invalid_at`), through the queued job, so Zep-fused
recall no longer answers with it. Real `zep-cloud` SDK against the local double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from almanac.memory import tasks
from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep, ZepFact
from tests.memory.external.test_zep_forget import zep_at

F = "/api/v1/memory/facts"
SLOT = {
    "subject_type": "client",
    "subject_id": "4",
    "fact_type": "identity",
    "category": "rate",
    "client_id": 4,
}
OLD, NEW = "Initech's day rate is 1200 euros", "Initech's day rate is 1400 euros"


async def run_zep_jobs(state: AppState) -> list[str]:
    """Run every waiting job of the `zep` queue (whenever scheduled) as a worker would,
    in order, until none is left; the task names run (with "!" when one raised, which a
    worker retries later)."""
    ran: list[str] = []
    tasks.set_state(state)
    try:
        while True:
            async with state.engine.begin() as conn:
                row = (
                    await conn.execute(
                        text(
                            "SELECT id, task_name, args FROM procrastinate_jobs "
                            "WHERE queue_name = 'zep' AND status = 'todo' ORDER BY id LIMIT 1"
                        )
                    )
                ).first()
                if row is None:
                    return ran
                await conn.execute(
                    text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"),
                    {"id": row.id},
                )
            name = row.task_name.removeprefix("almanac:")
            status = "succeeded"
            if name in tasks.blueprint.tasks:
                try:
                    await tasks.blueprint.tasks[name].func(**row.args)
                    ran.append(name)
                except Exception:
                    ran.append(f"{name}!")
                    status = "failed"
            async with state.engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE procrastinate_jobs "
                        "SET status = CAST(:s AS procrastinate_job_status) WHERE id = :id"
                    ),
                    {"id": row.id, "s": status},
                )
    finally:
        tasks.set_state(None)


def learnt(zep: FakeZep, content: str) -> ZepFact:
    (fact,) = [f for f in zep.facts.get("client-4", []) if f.fact.endswith(content)]
    return fact


async def zep_recalled(client: httpx.AsyncClient) -> list[str]:
    r = await client.get(
        "/api/v1/memory/recall", params={"query": "Initech day rate euros", "client_id": 4}
    )
    assert r.status_code == 200, r.text
    assert r.json()["zep"] == "used", r.text
    hits = r.json()["results"]
    return [h["content"].removeprefix("Zep learnt: ") for h in hits if h["source"] == "zep"]


async def test_a_superseded_facts_copy_in_zep_gets_its_end(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    zep.learn = True
    async with zep_at(committed_state, zep.base_url):
        old = await committed_client.post(F, json={**SLOT, "content": OLD})
        assert old.status_code == 201, old.text
        await run_zep_jobs(committed_state)
        assert learnt(zep, OLD).invalid_at is None
        assert OLD in await zep_recalled(committed_client)
        new = await committed_client.post(F, json={**SLOT, "content": NEW})
        assert new.json()["superseded_id"] == old.json()["fact"]["id"], new.text
        await run_zep_jobs(committed_state)
        ended = (await committed_client.get(f"{F}/{old.json()['fact']['id']}")).json()
        assert ended["valid_to"] is not None
        edge = learnt(zep, OLD)
        assert edge.invalid_at is not None
        assert datetime.fromisoformat(edge.invalid_at) == datetime.fromisoformat(ended["valid_to"])
        assert learnt(zep, NEW).invalid_at is None
        recalled = await zep_recalled(committed_client)
        assert OLD not in recalled and NEW in recalled


async def test_the_end_waits_until_zep_has_learnt_from_the_fact(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """Zep learns from an episode in the background: the job asks again (raises for a
    retry) until it has; a fact ended before it was sent gets its end after the send."""
    from almanac.memory.external.sync import NotLearntYet, send_fact_dates

    zep.learn = zep.learn_later = True
    async with zep_at(committed_state, zep.base_url):
        now = datetime.now(UTC)
        old = await committed_client.post(
            F,
            json={**SLOT, "content": OLD, "valid_from": (now - timedelta(days=9)).isoformat()},
        )
        fact_id = old.json()["fact"]["id"]
        end = now - timedelta(days=2)
        r = await committed_client.post(
            f"{F}/{fact_id}/supersede", json={"content": NEW, "valid_from": end.isoformat()}
        )
        assert r.status_code == 201, r.text
        ran = await run_zep_jobs(committed_state)
        # Both sent; the end asked for too soon (queued by the supersede, and by the
        # send of a fact already ended), so retried.
        assert sorted(ran) == ["zep_fact", "zep_fact", "zep_fact_dates!", "zep_fact_dates!"]
        assert zep.facts.get("client-4", []) == []
        try:
            await send_fact_dates(committed_state, fact_id)
        except NotLearntYet:
            pass
        else:
            raise AssertionError("dated before Zep learnt anything")
        zep.learn_pending()
        assert await send_fact_dates(committed_state, fact_id) == 1
        assert datetime.fromisoformat(learnt(zep, OLD).invalid_at or "") == end
        assert learnt(zep, NEW).invalid_at is None
        # Idempotent: the same dates again.
        assert await send_fact_dates(committed_state, fact_id) == 1


async def test_an_edge_another_valid_fact_also_taught_keeps_its_validity(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """Zep merges what two episodes say alike into one edge: ending one fact must not end
    what another, still valid, fact holds too."""
    zep.learn = True
    async with zep_at(committed_state, zep.base_url):
        shared = "Initech pays within 30 days"
        bodies: list[dict[str, Any]] = [
            {**SLOT, "category": "terms", "content": shared},
            {**SLOT, "category": "payment", "content": "Initech pays invoices in 30 days"},
        ]
        ids = []
        for body in bodies:
            r = await committed_client.post(F, json=body)
            ids.append(r.json()["fact"]["id"])
        await run_zep_jobs(committed_state)
        edges = zep.facts["client-4"]
        # As Zep would: the second episode taught the first one's edge again.
        edges[0].episodes += edges[1].episodes
        del edges[1]
        r = await committed_client.post(
            f"{F}/{ids[0]}/supersede", json={"content": "Initech pays within 45 days"}
        )
        assert r.status_code == 201, r.text
        ran = await run_zep_jobs(committed_state)
        assert "zep_fact_dates" in ran
        assert learnt(zep, shared).invalid_at is None


async def test_a_fact_restated_from_earlier_starts_earlier_in_zep_too(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    zep.learn = True
    async with zep_at(committed_state, zep.base_url):
        later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        r = await committed_client.post(F, json={**SLOT, "content": NEW, "valid_from": later})
        assert r.status_code == 201, r.text
        await run_zep_jobs(committed_state)
        assert datetime.fromisoformat(learnt(zep, NEW).valid_at or "") == datetime.fromisoformat(
            later
        )
        moved = await committed_client.post(F, json={**SLOT, "content": NEW})
        assert moved.json()["fact"]["id"] == r.json()["fact"]["id"], moved.text
        assert await run_zep_jobs(committed_state) == ["zep_fact_dates"]
        start = datetime.fromisoformat(moved.json()["fact"]["valid_from"])
        assert datetime.fromisoformat(learnt(zep, NEW).valid_at or "") == start
        assert learnt(zep, NEW).invalid_at is None
