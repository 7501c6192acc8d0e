"""Zep Cloud as an optional provider, through the real `zep-cloud` SDK against a local double."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import ZepSettings
from almanac.memory import tasks
from almanac.memory.external.sync import send_event, send_fact
from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep, ZepFact

JOBS = text("SELECT args FROM procrastinate_jobs WHERE task_name = 'almanac:zep_send' ORDER BY id")


def configure(state: AppState, base_url: str, budget_ms: int = 5000) -> None:
    # A generous budget where Zep must answer: the test machine is shared and slow.
    state.settings.zep = ZepSettings(
        api_key=SecretStr("zep-test-key"),
        base_url=base_url,
        recall_budget_ms=budget_ms,
        timeout_seconds=5,
    )


@pytest.fixture
async def zep_state(state: AppState, zep: FakeZep) -> AsyncIterator[AppState]:
    configure(state, zep.base_url)
    yield state
    if state.external is not None:
        await state.external.close()
        state.external = None


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


async def test_salient_events_are_queued_in_the_same_transaction(
    client: httpx.AsyncClient, zep_state: AppState, db_session: AsyncSession, zep: FakeZep
) -> None:
    items = [
        {"content": "Acme signs the renewal in March", "salience_score": 0.9, "client_id": 7},
        {"content": "had coffee", "salience_score": 0.3},
        {"content": "Initech wants weekly reports", "salience_score": 0.7},
    ]
    r = await client.post("/api/v1/memory/remember/batch", json={"items": items})
    assert r.status_code == 201, r.text
    ids = r.json()["ids"]
    queued = [row[0]["event_id"] for row in await db_session.execute(JOBS)]
    assert queued == [ids[0], ids[2]]
    # remember never waited on Zep: nothing reached it during the request
    assert zep.requests == []


async def test_nothing_is_queued_or_sent_when_zep_is_not_configured(
    client: httpx.AsyncClient, state: AppState, db_session: AsyncSession
) -> None:
    body = {"content": "Globex renews in March", "salience_score": 0.95}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    assert list(await db_session.execute(JOBS)) == []
    r = await client.get("/api/v1/memory/recall", params={"query": "Globex renews"})
    assert r.json()["zep"] == "off" and r.json()["degraded"] is False
    assert state.external is None
    health = (await client.get("/health")).json()
    assert health["dependencies"]["zep"]["status"] == "not_configured"
    assert health["status"] == "ok"


async def test_send_is_idempotent_across_retries_and_a_lost_commit(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    configure(committed_state, zep.base_url)
    body = {
        "content": "Acme's CFO signs every invoice above 5k",
        "salience_score": 0.9,
        "client_id": 3,
        "session_id": "call-1",
    }
    r = await committed_client.post("/api/v1/memory/remember", json=body)
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]
    tasks.set_state(committed_state)
    try:
        assert await send_event(committed_state, event_id) is True
        assert await send_event(committed_state, event_id) is False  # a retry
        # A worker that sent but died before committing: the mark is lost, Zep has it.
        async with committed_state.engine.begin() as conn:
            await conn.execute(text("UPDATE events SET zep_session_id = NULL"))
        assert await send_event(committed_state, event_id) is False
    finally:
        tasks.set_state(None)
        await committed_state.external.close()  # type: ignore[union-attr]
        committed_state.external = None
    msgs = zep.messages("client-3.call-1")
    assert [m["content"] for m in msgs] == [body["content"]]
    assert msgs[0]["metadata"] == {"almanac_event_id": str(event_id)}
    assert zep.threads["client-3.call-1"]["user_id"] == "client-3"
    async with committed_state.engine.connect() as conn:
        mark = await conn.scalar(text("SELECT zep_session_id FROM events"))
    assert mark == "client-3.call-1"


async def test_a_failed_send_raises_for_a_retry_and_marks_nothing(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    configure(committed_state, zep.base_url)
    body = {"content": "Hooli pays net 30", "salience_score": 0.9}
    event_id = (await committed_client.post("/api/v1/memory/remember", json=body)).json()["id"]
    zep.fail_status = 500
    try:
        with pytest.raises(Exception, match="500"):
            await send_event(committed_state, event_id)
        async with committed_state.engine.connect() as conn:
            assert await conn.scalar(text("SELECT zep_session_id FROM events")) is None
        zep.fail_status = None
        assert await send_event(committed_state, event_id) is True
    finally:
        await committed_state.external.close()  # type: ignore[union-attr]
        committed_state.external = None
    assert [m["content"] for m in zep.messages()] == [body["content"]]


async def test_recall_fuses_zep_and_marks_sources(
    client: httpx.AsyncClient, zep_state: AppState, zep: FakeZep
) -> None:
    local = {"content": "Acme invoices go to the finance team", "client_id": 5}
    assert (await client.post("/api/v1/memory/remember", json=local)).status_code == 201
    zep.facts["client-5"] = [
        ZepFact("Acme invoices are approved by Dana, the CFO", valid_at="2026-10-01T00:00:00Z"),
        ZepFact("Acme invoices were approved by Bob", invalid_at="2026-09-01T00:00:00Z"),
    ]
    zep.facts["client-6"] = [ZepFact("Acme invoices belong to another client")]
    r = await client.get("/api/v1/memory/recall", params={"query": "Acme invoices", "client_id": 5})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["zep"] == "used" and out["degraded"] is False
    by_source = {h["content"]: h["source"] for h in out["results"]}
    assert by_source[local["content"]] == "postgres"
    assert by_source["Acme invoices are approved by Dana, the CFO"] == "zep"
    # an invalidated Zep fact is not current, and another client's facts never appear
    assert "Acme invoices were approved by Bob" not in by_source
    assert "Acme invoices belong to another client" not in by_source
    zep_hit = next(h for h in out["results"] if h["source"] == "zep")
    assert zep_hit["id"] < 0 and zep_hit["ref"] and zep_hit["kind"] == "fact"
    scores = [h["score"] for h in out["results"]]
    assert scores == sorted(scores, reverse=True)


async def test_a_recall_for_a_client_asks_only_that_clients_zep_user(
    client: httpx.AsyncClient, zep_state: AppState, zep: FakeZep
) -> None:
    """A plan's recall (`for_client`) asked Zep's owner user, whose graph holds what was
    said of every client without a client id: another client's facts came back, which
    Postgres' answer leaves out by their subject."""
    about_7 = {
        "subject_type": "client",
        "subject_id": "7",
        "fact_type": "constraint",
        "content": "Acme pays 200 euros per hour for audits",
    }
    assert (await client.post("/api/v1/memory/facts", json=about_7)).status_code == 201
    # What Zep learnt from that fact, in the owner's graph, and client 8's own.
    zep.facts["user"] = [ZepFact("Acme pays 200 euros per hour for audits, per contract")]
    zep.facts["client-8"] = [ZepFact("Globex pays 150 euros per hour for audits")]
    r = await client.get(
        "/api/v1/memory/recall", params={"query": "pays euros per hour audits", "for_client": 8}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["zep"] == "used"
    contents = [h["content"] for h in out["results"]]
    assert not any("Acme" in c for c in contents), contents
    assert "Globex pays 150 euros per hour for audits" in contents
    # Client 7's memories asked for client 8: nothing of client 7's Zep user either.
    zep.facts["client-7"] = [ZepFact("Acme pays 200 euros per hour for audits, in Zep")]
    r = await client.get(
        "/api/v1/memory/recall",
        params={"query": "pays euros per hour audits", "client_id": 7, "for_client": 8},
    )
    assert r.json()["results"] == [] and r.json()["zep"] == "off", r.text
    # The owner's own recall (no client named) still asks the owner's user.
    r = await client.get("/api/v1/memory/recall", params={"query": "pays euros per hour audits"})
    assert "Acme pays 200 euros per hour for audits, per contract" in [
        h["content"] for h in r.json()["results"]
    ]


async def test_zeps_results_meet_the_relevance_floor(
    client: httpx.AsyncClient, zep_state: AppState, zep: FakeZep
) -> None:
    """Zep answers its nearest whatever the question: its results had no relevance and
    skipped the floor, so a question about something never mentioned was answered with
    Zep's unrelated facts (no_match false) while Postgres alone said no match."""
    local = {"content": "Acme invoices go to the finance team", "client_id": 5}
    assert (await client.post("/api/v1/memory/remember", json=local)).status_code == 201
    zep.facts["client-5"] = [ZepFact("Dana approves the invoices at Acme")]
    # The double answers any shared word ("the"): Zep's nearest, however far.
    never = {"query": "What is the capital of Peru?", "client_id": 5}
    out = (await client.get("/api/v1/memory/recall", params=never)).json()
    assert out["zep"] == "used"
    assert out["results"] == [] and out["no_match"] is True, out
    asked = {"query": "Who approves the invoices at Acme?", "client_id": 5}
    out = (await client.get("/api/v1/memory/recall", params=asked)).json()
    from_zep = [h for h in out["results"] if h["source"] == "zep"]
    assert [h["content"] for h in from_zep] == ["Dana approves the invoices at Acme"]
    assert from_zep[0]["relevance"] >= 0.5


ZEP_SLOW = 30.0  # how long the slow Zep takes to answer a search


async def test_slow_zep_is_skipped_within_the_budget(
    client: httpx.AsyncClient, state: AppState, zep: FakeZep
) -> None:
    configure(state, zep.base_url, budget_ms=200)
    zep.delay = ZEP_SLOW
    body = {"content": "Globex kickoff moved to Tuesday", "client_id": 2}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    started = time.perf_counter()
    r = await client.get("/api/v1/memory/recall", params={"query": "Globex kickoff"})
    elapsed = time.perf_counter() - started
    out = r.json()
    assert r.status_code == 200
    assert out["zep"] == "skipped" and out["degraded"] is True
    assert "200 ms" in out["detail"]
    assert [h["content"] for h in out["results"]] == [body["content"]]
    assert all(h["source"] == "postgres" for h in out["results"])
    # The budget, plus the local search (roomy: it is what a loaded machine slows, 1 s was
    # short), well short of Zep's answer.
    assert elapsed < ZEP_SLOW / 3, elapsed
    await state.external.close()  # type: ignore[union-attr]
    state.external = None


@pytest.mark.parametrize("mode", ["down", "error"])
async def test_zep_down_or_failing_degrades_recall_and_health(
    client: httpx.AsyncClient, state: AppState, zep: FakeZep, mode: str
) -> None:
    if mode == "down":
        configure(state, closed_port_url())
    else:
        configure(state, zep.base_url)
        zep.fail_status = 500
    body = {"content": "Initech wants weekly status reports"}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    r = await client.get("/api/v1/memory/recall", params={"query": "weekly status reports"})
    out = r.json()
    assert r.status_code == 200
    assert out["zep"] == "skipped" and out["degraded"] is True
    assert [h["content"] for h in out["results"]] == [body["content"]]
    health = await client.get("/health")
    assert health.status_code == 200
    dep = health.json()["dependencies"]["zep"]
    assert dep["status"] == ("down" if mode == "down" else "degraded")
    assert health.json()["status"] == "degraded"
    await state.external.close()  # type: ignore[union-attr]
    state.external = None


async def test_health_says_degraded_when_zep_answers_slower_than_recall_waits(
    client: httpx.AsyncClient, state: AppState, zep: FakeZep
) -> None:
    """A Zep that answered every request in 0.6 s was "ok" in /health (its probe's limit is
    2 s) while every recall skipped it for its 200 ms budget."""
    configure(state, zep.base_url, budget_ms=200)
    zep.delay_all = 0.6
    try:
        r = await client.get("/api/v1/memory/recall", params={"query": "weekly reports"})
        assert r.json()["zep"] == "skipped"
        health = (await client.get("/health")).json()
        dep = health["dependencies"]["zep"]
        assert dep["status"] == "degraded", dep
        assert "200 ms" in dep["detail"] and "RECALL_BUDGET_MS" in dep["detail"]
        assert health["status"] == "degraded"
    finally:
        await state.external.close()  # type: ignore[union-attr]
        state.external = None


async def test_health_ok_when_zep_answers(client: httpx.AsyncClient, zep_state: AppState) -> None:
    body = (await client.get("/health")).json()
    assert body["dependencies"]["zep"]["status"] == "ok"


def test_the_task_is_registered() -> None:
    assert "zep_send" in tasks.blueprint.tasks


async def test_facts_are_written_to_the_users_zep_graph_once(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    configure(committed_state, zep.base_url)
    fact = {
        "subject_type": "client",
        "subject_id": "4",
        "fact_type": "preference",
        "content": "Initech prefers invoices in EUR",
        "client_id": 4,
    }
    r = await committed_client.post("/api/v1/memory/facts", json=fact)
    assert r.status_code == 201, r.text
    fact_id = r.json()["fact"]["id"]
    async with committed_state.engine.connect() as conn:
        jobs = [
            row[0]["fact_id"]
            for row in await conn.execute(
                text("SELECT args FROM procrastinate_jobs WHERE task_name = 'almanac:zep_fact'")
            )
        ]
    assert jobs == [fact_id]
    try:
        assert await send_fact(committed_state, fact_id) is True
        assert await send_fact(committed_state, fact_id) is False
        async with committed_state.engine.begin() as conn:  # a lost commit
            await conn.execute(text("UPDATE facts SET zep_fact_id = NULL"))
        assert await send_fact(committed_state, fact_id) is True  # found, not re-sent
    finally:
        await committed_state.external.close()  # type: ignore[union-attr]
        committed_state.external = None
    episodes = zep.episodes["client-4"]
    assert [e["content"] for e in episodes] == [fact["content"]]
    assert episodes[0]["metadata"] == {"almanac_fact_id": str(fact_id)}
    async with committed_state.engine.connect() as conn:
        assert await conn.scalar(text("SELECT zep_fact_id FROM facts")) == episodes[0]["uuid"]


async def test_zeps_facts_come_back_as_almanac_facts_once_with_supersession(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    from almanac.observer import tasks as observer_tasks

    configure(committed_state, zep.base_url)
    body = {"content": "Dana is Acme's CFO now", "salience_score": 0.9, "client_id": 8}
    event_id = (await committed_client.post("/api/v1/memory/remember", json=body)).json()["id"]
    observer_tasks.set_state(committed_state)
    try:
        assert await send_event(committed_state, event_id) is True
        async with committed_state.engine.connect() as conn:
            queued = await conn.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE task_name = 'observer:import_zep_facts' AND status = 'todo'"
                )
            )
        assert queued == 1
        zep.facts["client-8"] = [
            ZepFact("Bob is Acme's CFO", name="HAS_CFO", valid_at="2026-01-01T00:00:00Z"),
            ZepFact("Acme was based in Leeds", name="BASED_IN", invalid_at="2026-05-01T00:00:00Z"),
        ]
        assert await observer_tasks.run_import_zep_facts(8) == 2
        zep.facts["client-8"].append(
            ZepFact("Dana is Acme's CFO", name="HAS_CFO", valid_at="2026-11-01T00:00:00Z")
        )
        assert await observer_tasks.run_import_zep_facts(8) == 1  # only the new one
        assert await observer_tasks.run_import_zep_facts(8) == 0
    finally:
        observer_tasks.set_state(None)
        await committed_state.external.close()  # type: ignore[union-attr]
        committed_state.external = None
    async with committed_state.engine.connect() as conn:
        decisions = (
            await conn.execute(
                text("SELECT decision, proposal->>'content' FROM fact_decisions ORDER BY id")
            )
        ).all()
        facts = (
            await conn.execute(
                text(
                    "SELECT content, valid_from::date::text, valid_to IS NULL, client_id "
                    "FROM facts WHERE subject_type = 'zep_entity' ORDER BY id"
                )
            )
        ).all()
    assert [d[0] for d in decisions] == ["added", "rejected", "superseded"]
    assert facts == [
        ("Bob is Acme's CFO", "2026-01-01", False, 8),
        ("Dana is Acme's CFO", "2026-11-01", True, 8),
    ]
    # Zep's own facts are not written back into its graph (they were, as new episodes).
    async with committed_state.engine.connect() as conn:
        echoed = await conn.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'almanac:zep_fact'")
        )
    assert echoed == 0


async def test_a_fact_superseding_one_from_zep_is_written_to_zep(
    client: httpx.AsyncClient, zep_state: AppState, db_session: AsyncSession
) -> None:
    """The correction is the user's statement: it goes to Zep's graph, though it carries
    the rest of the imported fact's metadata."""
    imported = {
        "subject_type": "zep_entity",
        "subject_id": "Acme",
        "fact_type": "identity",
        "category": "has_cfo",
        "content": "Bob is Acme's CFO",
        "client_id": 8,
        "metadata": {"source": "observer:zep", "note": "kept"},
    }
    r = await client.post("/api/v1/memory/facts", json=imported)
    assert r.status_code == 201, r.text
    old_id = r.json()["fact"]["id"]
    r = await client.post(
        f"/api/v1/memory/facts/{old_id}/supersede", json={"content": "Dana is Acme's CFO"}
    )
    assert r.status_code == 201, r.text
    new = r.json()["fact"]
    assert new["metadata"] == {"note": "kept"}
    queued = [
        row[0]["fact_id"]
        for row in await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = 'almanac:zep_fact'")
        )
    ]
    assert queued == [new["id"]]


async def test_a_cached_recall_says_zeps_part_is_cached_not_that_zep_was_used(
    client: httpx.AsyncClient, zep_state: AppState, zep: FakeZep
) -> None:
    """A cached answer said `"zep": "used"` while Zep was down: it had not been asked."""
    body = {"content": "Acme invoices go to the finance team", "client_id": 5}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    zep.facts["client-5"] = [ZepFact("Acme invoices are approved by Dana, the CFO")]
    params = {"query": "Acme invoices", "client_id": 5}
    first = (await client.get("/api/v1/memory/recall", params=params)).json()
    assert first["zep"] == "used" and first["cached"] is False
    zep.fail_status = 500
    again = (await client.get("/api/v1/memory/recall", params=params)).json()
    assert again["cached"] is True and again["results"] == first["results"]
    assert again["zep"] == "cached"
    assert "Zep was not asked" in again["detail"] and again["degraded"] is False
    # /health, which does ask, says Zep is failing.
    health = (await client.get("/health")).json()
    assert health["dependencies"]["zep"]["status"] == "degraded"


async def test_an_answer_cached_without_zep_is_not_served_once_zep_is_on(
    client: httpx.AsyncClient, state: AppState, zep: FakeZep
) -> None:
    body = {"content": "Acme invoices go to the finance team", "client_id": 5}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    params = {"query": "Acme invoices", "client_id": 5}
    first = (await client.get("/api/v1/memory/recall", params=params)).json()
    assert first["zep"] == "off"
    configure(state, zep.base_url)
    zep.facts["client-5"] = [ZepFact("Acme invoices are approved by Dana, the CFO")]
    try:
        out = (await client.get("/api/v1/memory/recall", params=params)).json()
    finally:
        if state.external is not None:
            await state.external.close()
            state.external = None
    assert out["cached"] is False and out["zep"] == "used"
    assert "Acme invoices are approved by Dana, the CFO" in [h["content"] for h in out["results"]]


@pytest.mark.parametrize("trouble", ["fails", "stalls"])
async def test_scoring_zeps_results_is_held_to_the_budget_and_degrades(
    client: httpx.AsyncClient,
    state: AppState,
    zep: FakeZep,
    monkeypatch: pytest.MonkeyPatch,
    trouble: str,
) -> None:
    """Zep's results are scored by the embedder (a remote one, with `openai_compat`): that
    ran after Zep's budget, outside it, so a stalled embedding held recall past the budget
    (without end) and a failed one turned the local answer, ready, into a 500."""
    # A budget the double's search meets on a loaded machine: what stalls is the scoring.
    configure(state, zep.base_url, budget_ms=3000)
    body = {"content": "Acme invoices go to the finance team", "client_id": 5}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    zep.facts["client-5"] = [ZepFact("Acme invoices are approved by Dana, the CFO")]
    real_embed = state.embedder.embed
    never = asyncio.Event()

    async def embed(texts: Sequence[str]) -> Any:
        if any("Dana" in t for t in texts):  # only Zep's result says so
            if trouble == "fails":
                raise RuntimeError("embedding service answered 502")
            await never.wait()
        return await real_embed(texts)

    monkeypatch.setattr(state.embedder, "embed", embed)
    try:
        r = await asyncio.wait_for(
            client.get("/api/v1/memory/recall", params={"query": "Acme invoices", "client_id": 5}),
            timeout=30,  # a guard against the hang, far past the budget
        )
    finally:
        await state.external.close()  # type: ignore[union-attr]
        state.external = None
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["zep"] == "skipped" and out["degraded"] is True, out
    assert [h["content"] for h in out["results"]] == [body["content"]]
