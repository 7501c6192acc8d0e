"""Retention: old, unpromoted events are archived to gzip JSONL and deleted; facts stay."""

from __future__ import annotations

import gzip
import json
import stat
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from almanac.memory.retention import run_retention
from almanac.state import AppState
from tests.jobs.conftest import scalar

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _seed(state: AppState) -> dict[str, int]:
    old, recent = NOW - timedelta(days=120), NOW - timedelta(days=10)
    ids: dict[str, int] = {}
    async with state.engine.begin() as conn:

        async def event(name: str, when: datetime, session: str | None = None) -> int:
            ids[name] = (
                await conn.execute(
                    text(
                        "INSERT INTO events (event_type, event_source, content, session_id, "
                        "created_at, occurred_at) VALUES ('memory', 'user', :c, :s, :w, :w) "
                        "RETURNING id"
                    ),
                    {"c": f"note {name}", "s": session, "w": when},
                )
            ).scalar_one()
            return ids[name]

        for n in ("old1", "old2", "old3"):
            await event(n, old, session="s1")
        await event("recent", recent)
        promoted = await event("promoted", old)
        sourced = await event("sourced", old)
        fact = (
            await conn.execute(
                text(
                    "INSERT INTO facts (subject_type, subject_id, fact_type, content, "
                    "source_event_id) VALUES ('user', 'me', 'preference', 'tea', :e) RETURNING id"
                ),
                {"e": sourced},
            )
        ).scalar_one()
        await conn.execute(
            text("UPDATE events SET promoted_to_fact_id = :f WHERE id = :e"),
            {"f": fact, "e": promoted},
        )
    return ids


async def test_dry_run_counts_and_changes_nothing(committed_state: AppState):
    await _seed(committed_state)
    folder = committed_state.settings.data_dir / "retention"
    before = set(folder.glob("*"))  # the data folder is shared with other tests
    report = await run_retention(committed_state, days=90, dry_run=True, now=NOW)
    assert (report.eligible, report.kept_promoted, report.deleted) == (3, 2, 0)
    assert report.files == []
    assert await scalar(committed_state.engine, "SELECT count(*) FROM events") == 6
    assert set(folder.glob("*")) == before


async def test_real_run_archives_then_deletes_in_batches(committed_state: AppState):
    ids = await _seed(committed_state)
    report = await run_retention(committed_state, days=90, batch=2, now=NOW)
    assert (report.eligible, report.deleted, len(report.files)) == (3, 3, 2)
    archived = []
    for path in report.files:
        assert path.parent == committed_state.settings.data_dir / "retention"
        assert path.name.endswith(".jsonl.gz")
        # The archives hold memories: private to the owner (they were 0644).
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            archived += [json.loads(line) for line in fh]
    assert sorted(r["id"] for r in archived) == sorted(ids[n] for n in ("old1", "old2", "old3"))
    assert {r["content"] for r in archived} == {"note old1", "note old2", "note old3"}
    assert all(r["session_id"] == "s1" and r["occurred_at"] for r in archived)
    left = await scalar(committed_state.engine, "SELECT array_agg(id ORDER BY id) FROM events")
    assert left == sorted(ids[n] for n in ("recent", "promoted", "sourced"))
    # Nothing partial is left behind, and a second run finds nothing to do.
    assert not list((committed_state.settings.data_dir / "retention").glob("*.part"))
    again = await run_retention(committed_state, days=90, now=NOW)
    assert (again.eligible, again.deleted, again.files) == (0, 0, [])


async def test_retention_task_uses_the_configured_days(committed_state: AppState):
    from almanac.memory import tasks

    await _seed(committed_state)
    committed_state.settings.jobs.retention_days = 100_000  # nothing is that old
    tasks.set_state(committed_state)
    try:
        await tasks.retention()
    finally:
        tasks.set_state(None)
    assert await scalar(committed_state.engine, "SELECT count(*) FROM events") == 6


async def test_retention_over_http_and_bad_input(
    committed_state: AppState, committed_client: httpx.AsyncClient
):
    ids = await _seed(committed_state)
    # 50 days before NOW, counted from today: the old events are past it, "recent" is not.
    days = (datetime.now(UTC) - NOW).days + 50
    url = "/api/v1/memory/retention"
    r = await committed_client.post(url, json={"days": days, "dry_run": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["eligible"], body["kept_promoted"], body["deleted"]) == (3, 2, 0)
    assert body["dry_run"] is True and body["files"] == []
    assert await scalar(committed_state.engine, "SELECT count(*) FROM events") == 6

    for bad, field in (
        ({"days": 0}, "days"),
        ({"days": "soon"}, "days"),
        ({"dry_run": "maybe"}, "dry_run"),
        ({"dry_run": True, "everything": True}, "everything"),
    ):
        r = await committed_client.post(url, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text
    assert await scalar(committed_state.engine, "SELECT count(*) FROM events") == 6

    r = await committed_client.post(url, json={"days": days})
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == 3 and all(f.endswith(".jsonl.gz") for f in r.json()["files"])
    left = await scalar(committed_state.engine, "SELECT array_agg(id ORDER BY id) FROM events")
    assert left == sorted(ids[n] for n in ("recent", "promoted", "sourced"))


async def test_retention_prunes_the_names_only_deleted_memories_held(committed_state: AppState):
    """Entity nodes left with no memory go with the retention run, not at the next forget."""
    from almanac.db.uow import unit_of_work
    from almanac.memory.entity_links import EntityLinkRepository
    from almanac.memory.graph_signal import link_memories

    old, recent = NOW - timedelta(days=120), NOW - timedelta(days=10)
    async with committed_state.engine.begin() as conn:
        made = []
        for content, when in (
            ("Met Oskar Lindqvist at the harbour", old),
            ("Ingrid Halvorsen called about Oskar Lindqvist", recent),
            ("Dinner with Hana Okafor", old),
        ):
            made.append(
                (
                    await conn.execute(
                        text(
                            "INSERT INTO events (event_type, event_source, content, "
                            "created_at, occurred_at) VALUES ('memory', 'user', :c, :w, :w) "
                            "RETURNING id"
                        ),
                        {"c": content, "w": when},
                    )
                ).scalar_one()
            )
    async with unit_of_work(committed_state.sessionmaker) as uow:
        await link_memories(
            EntityLinkRepository(uow.session),
            list(
                zip(
                    made,
                    [
                        "x Oskar Lindqvist",
                        "x Ingrid Halvorsen and Oskar Lindqvist",
                        "x Hana Okafor",
                    ],
                    strict=True,
                )
            ),
        )

    report = await run_retention(committed_state, days=90, now=NOW)
    assert report.deleted == 2 and report.pruned == 1
    nodes = await scalar(
        committed_state.engine,
        "SELECT string_agg(node_id, ',' ORDER BY node_id) FROM graph_nodes "
        "WHERE node_type = 'entity'",
    )
    # Hana's only memory is gone; Oskar is still named by a recent one.
    assert nodes == "entity:ingrid halvorsen,entity:oskar lindqvist"


async def test_a_run_drops_the_graph_nodes_of_facts_that_have_ended_since(
    committed_state: AppState,
):
    engine = committed_state.engine
    async with engine.begin() as conn:
        # "rate 1200" valid now until "rate 1400" begins: both are graph nodes.
        old, new = (
            await conn.execute(
                text(
                    "INSERT INTO facts (subject_type, subject_id, fact_type, category, content, "
                    "valid_from, valid_to) VALUES "
                    "('client', '9', 'constraint', 'rate', 'rate 1200', "
                    " clock_timestamp() - interval '30 days', "
                    " clock_timestamp() + interval '1 day'),"
                    "('client', '9', 'constraint', 'rate', 'rate 1400', "
                    " clock_timestamp() + interval '1 day', NULL) RETURNING id"
                )
            )
        ).scalars()
    fact_nodes = "SELECT string_agg(node_id, ',' ORDER BY node_id) FROM graph_nodes " + (
        "WHERE node_type = 'fact'"
    )
    both = ",".join(sorted([f"fact:{old}", f"fact:{new}"]))
    assert await scalar(engine, fact_nodes) == both
    async with engine.begin() as conn:  # a day passes: no trigger fires for that
        await conn.execute(text("ALTER TABLE facts DISABLE TRIGGER facts_graph"))
        await conn.execute(
            text("UPDATE facts SET valid_to = clock_timestamp() - interval '1 hour' WHERE id = :i"),
            {"i": old},
        )
        await conn.execute(text("ALTER TABLE facts ENABLE TRIGGER facts_graph"))

    dry = await run_retention(committed_state, days=90, dry_run=True, now=NOW)
    assert dry.ended_facts == 0 and await scalar(engine, fact_nodes) == both
    # No event is old enough: the graph's step runs all the same.
    report = await run_retention(committed_state, days=90, now=NOW)
    assert (report.eligible, report.ended_facts) == (0, 1)
    assert await scalar(engine, fact_nodes) == f"fact:{new}"
    assert await scalar(engine, "SELECT count(*) FROM graph_nodes WHERE node_id = 'client:9'")
