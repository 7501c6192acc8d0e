"""The migrated schema: tables, generated columns, the temporal function, BM25 statistics."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.migrate import _check_pgvector
from almanac.errors import DependencyUnavailable

TABLES = {
    "events",
    "plans",
    "scheduler_runs",
    "graph_nodes",
    "graph_edges",
    "prompt_templates",
    "facts",
    "service_blueprints",
    "workflows",
    "process_templates",
    "execution_runs",
    "tasks",
    "sprints",
    "search_terms",
    "search_stats",
}


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).scalar()


async def test_every_table_exists_and_pgvector_is_installed(db_session: AsyncSession):
    rows = await db_session.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    )
    assert TABLES <= {r[0] for r in rows}
    assert await scalar(db_session, "SELECT extversion FROM pg_extension WHERE extname='vector'")
    assert (
        await scalar(db_session, "SELECT count(*) FROM pg_indexes WHERE schemaname='public'") >= 15
    )


async def test_variance_pct_is_generated(db_session: AsyncSession):
    await db_session.execute(
        text(
            "INSERT INTO execution_runs (run_identifier, estimated_hours, actual_hours) "
            "VALUES ('r1', 4, 5), ('r2', 0, 3), ('r3', 2, NULL)"
        )
    )
    rows = dict(
        (
            await db_session.execute(
                text("SELECT run_identifier, variance_pct FROM execution_runs ORDER BY 1")
            )
        ).all()
    )
    assert rows == {"r1": 25.0, "r2": None, "r3": None}


async def test_fact_supersession_has_one_implementation(db_session: AsyncSession):
    """Revision 0021 dropped the PL/pgSQL update_fact_temporal: FactService.supersede is the
    only way to supersede a fact (tests/memory/test_facts.py checks it)."""
    assert await scalar(db_session, "SELECT to_regproc('update_fact_temporal')::text") is None
    assert await scalar(db_session, "SELECT to_regproc('now')::text") == "now"  # the probe works


async def test_bm25_statistics_follow_inserts_and_deletes(db_session: AsyncSession):
    async def df(lexeme: str) -> int | None:
        return await scalar(
            db_session, "SELECT df FROM search_terms WHERE kind='event' AND lexeme=:l", l=lexeme
        )

    base_docs = await scalar(
        db_session, "SELECT coalesce((SELECT docs FROM search_stats WHERE kind='event'), 0)"
    )
    await db_session.execute(
        text(
            "INSERT INTO events (event_type, event_source, content) VALUES "
            "('m','u','Zebras graze'), ('m','u','zebra crossing near the office')"
        )
    )
    assert await df("zebra") == 2 and await df("graze") == 1
    assert (
        await scalar(db_session, "SELECT docs FROM search_stats WHERE kind='event'")
        == base_docs + 2
    )
    await db_session.execute(text("DELETE FROM events WHERE content = 'Zebras graze'"))
    assert await df("zebra") == 1 and await df("graze") == 0
    # An update that leaves the text alone leaves the statistics alone.
    await db_session.execute(text("UPDATE events SET salience_score = 0.9"))
    assert await df("zebra") == 1


def test_missing_pgvector_fails_fast_with_a_clear_message():
    class NoVector:
        def execute(self, *args: object) -> NoVector:
            return self

        def scalar(self) -> None:
            return None

    with pytest.raises(DependencyUnavailable, match="pgvector"):
        _check_pgvector(NoVector())  # type: ignore[arg-type]


async def test_migrations_match_the_models(engine):
    """A model changed without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from almanac.models import Base

    def diff(conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                # Per-model vector indexes are made at start-up, not by migrations;
                # procrastinate's tables come from its own schema file.
                "include_object": lambda o, n, t, r, c: (
                    not (
                        (t == "index" and n and n.startswith("idx_vec_"))
                        or (t == "table" and n and n.startswith("procrastinate_"))
                    )
                ),
            },
        )
        return list(compare_metadata(ctx, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
