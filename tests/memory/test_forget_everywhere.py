"""Forgetting a client removes every copy: a marker planted in every store is found in no
table (any text or JSON column) and no retention archive afterwards. Real commits."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from almanac.calendars.repository import CalendarEntryRepository
from almanac.db.uow import UnitOfWork
from almanac.jobs.queue import enqueue_many
from almanac.memory.retention import _write_archive
from almanac.observer.repository import ObserverRepository
from almanac.state import AppState
from tests.conftest import ok
from tests.planner.conftest import add_onboarding

MARKER = "qxmarker7731"
CLIENT = 777


async def tables_holding(state: AppState, needle: str) -> list[str]:
    """Every (table.column) of a text, varchar or JSON column whose value contains `needle`."""
    found = []
    async with state.engine.connect() as conn:
        columns = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type IN "
                    "('text', 'character varying', 'jsonb', 'json', 'tsvector', 'ARRAY')"
                )
            )
        ).all()
        for table, column in columns:
            hits = await conn.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE :n'),
                {"n": f"%{needle}%"},
            )
            if hits:
                found.append(f"{table}.{column}")
    return found


def archives_holding(state: AppState, needle: str) -> list[str]:
    folder = state.settings.data_dir / "retention"
    return [
        p.name
        for p in folder.glob("*.jsonl.gz")
        if needle in gzip.decompress(p.read_bytes()).decode()
    ]


async def plant(api: httpx.AsyncClient, state: AppState) -> dict[str, int]:
    workflow = await add_onboarding(api)
    tagged = await ok(
        await api.post(
            "/api/v1/memory/remember",
            json={
                "content": f"Call notes {MARKER} about onboarding",
                "salience_score": 0.95,
                "metadata": {"subject_type": "client", "subject_id": str(CLIENT)},
            },
        ),
        201,
    )
    by_column = await ok(
        await api.post(
            "/api/v1/memory/remember",
            json={
                "content": f"Invoice detail {MARKER}",
                "client_id": CLIENT,
                "salience_score": 0.9,
            },
        ),
        201,
    )
    fact = await ok(
        await api.post(
            "/api/v1/memory/facts",
            json={
                "subject_type": "client",
                "subject_id": str(CLIENT),
                "fact_type": "constraint",
                "content": f"Budget capped {MARKER}",
            },
        ),
        201,
    )
    await ok(
        await api.post(
            f"/api/v1/memory/facts/{fact['fact']['id']}/supersede",
            json={"content": f"Budget raised {MARKER}"},
        ),
        201,
    )
    plan = await ok(
        await api.post(
            "/api/v1/planner/plan",
            json={
                "intent": f"onboard a new client {MARKER}",
                "client_id": CLIENT,
                "workflow_id": workflow["id"],
            },
        ),
        201,
    )
    await ok(await api.post(f"/api/v1/planner/plans/{plan['id']}/approve"))
    # What the stores outside the API's direct reach hold: a block placed for the plan,
    # a fact-extraction decision, a queued extraction job, a retention archive line.
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        now = datetime.now(UTC)
        await CalendarEntryRepository(session).upsert_block(
            {
                "uid": f"almanac-plan{plan['id']}-kickoff-0@almanac",
                "title": f"Kickoff {MARKER}",
                "start_at": now,
                "end_at": now + timedelta(hours=1),
                "almanac_id": f"plan{plan['id']}-kickoff-0",
            }
        )
        await ObserverRepository(session).add_decision(
            {
                "event_id": None,
                "source": "llm",
                "decision": "rejected",
                "proposal": {
                    "subject_type": "client",
                    "subject_id": str(CLIENT),
                    "content": f"Pays late {MARKER}",
                },
            }
        )
        await enqueue_many(
            session, "observer:extract_facts", [{"event_id": by_column["id"]}], queue="observer"
        )
        await uow.commit()
    _write_archive(
        state.settings.data_dir / "retention" / "events-20200101T000000Z-0001.jsonl.gz",
        [
            {"id": 1, "content": f"Old note {MARKER}", "client_id": CLIENT, "metadata": {}},
            {"id": 2, "content": "Unrelated old note", "client_id": None, "metadata": {}},
        ],
    )
    await ok(await api.post("/api/v1/observer/reflect"))
    recall = await ok(await api.get("/api/v1/memory/recall", params={"query": MARKER}))
    assert recall["results"]  # now cached in-process
    return {"plan": plan["id"], "tagged": tagged["id"]}


async def test_forgetting_a_client_leaves_no_copy_anywhere(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    api, state = committed_client, committed_state
    other = await ok(
        await api.post(
            "/api/v1/memory/remember", json={"content": "Another client's note", "client_id": 778}
        ),
        201,
    )
    await plant(api, state)
    before = await tables_holding(state, MARKER)
    assert {
        "events.content",
        "facts.content",
        "plans.intent",
        "calendar_entries.title",
        "fact_decisions.proposal",
        "search_terms.lexeme",
    } <= set(before), before
    assert archives_holding(state, MARKER)

    out = await ok(await api.delete(f"/api/v1/memory/subjects/client/{CLIENT}"))
    deleted = out["deleted"]
    for store in (
        "events",
        "facts",
        "event_embeddings",
        "fact_embeddings",
        "plans",
        "process_templates",
        "calendar_entries",
        "fact_decisions",
        "queued_jobs",
        "search_terms",
        "retention_archive_lines",
    ):
        assert deleted[store] >= 1, (store, deleted)
    assert deleted["events"] >= 3 and deleted["facts"] == 2  # both versions of the fact

    assert await tables_holding(state, MARKER) == []
    assert archives_holding(state, MARKER) == []
    recall = await ok(await api.get("/api/v1/memory/recall", params={"query": MARKER}))
    assert MARKER not in json.dumps(recall["results"])
    # What belongs to someone else stays, in the database and in the archive.
    assert (await api.get(f"/api/v1/memory/events/{other['id']}")).status_code == 200
    folder = state.settings.data_dir / "retention"
    kept = gzip.decompress((folder / "events-20200101T000000Z-0001.jsonl.gz").read_bytes())
    assert b"Unrelated old note" in kept
    assert (folder / "events-20200101T000000Z-0001.jsonl.gz").stat().st_mode & 0o777 == 0o600
    (folder / "events-20200101T000000Z-0001.jsonl.gz").unlink()  # other tests count archives
