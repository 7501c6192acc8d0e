"""Revision 0042 on a database of its own: a fact with an end still ahead is a node after
it, none at 0041 (its rule: any `valid_to` drops the fact), and one again after upgrading."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.db.migrate import current_revision, upgrade
from tests.databases import downgrade, scratch_engine

FACT = """
INSERT INTO facts (subject_type, subject_id, fact_type, content, valid_from, valid_to)
VALUES ('person', 'ada', 'identity', :content,
        clock_timestamp() - interval '10 days', clock_timestamp() + :end)
RETURNING id
"""
NODES = "SELECT node_id FROM graph_nodes WHERE node_type = 'fact' ORDER BY node_id"


async def _fact(engine: AsyncEngine, content: str, end: timedelta | None) -> str:
    async with engine.begin() as conn:
        found = await conn.execute(text(FACT), {"content": content, "end": end})
        return f"fact:{found.scalar_one()}"


async def _nodes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(NODES))).scalars())


async def test_fact_node_until_ended_upgrade_and_downgrade(pg_url: str) -> None:
    async with scratch_engine(pg_url, "almanac_fact_node_migration") as engine:
        await upgrade(engine, "0042")
        assert await current_revision(engine) == "0042"
        open_ended = await _fact(engine, "Ada keeps the books", None)
        ending = await _fact(engine, "Ada works Mondays", timedelta(days=30))
        await _fact(engine, "Ada worked Sundays", -timedelta(days=1))
        assert await _nodes(engine) == sorted([open_ended, ending])

        await downgrade(engine, "0041")
        assert await _nodes(engine) == [open_ended]
        later = await _fact(engine, "Ada works Tuesdays", timedelta(days=30))  # 0041's trigger
        assert await _nodes(engine) == [open_ended]

        await upgrade(engine, "0042")
        assert await current_revision(engine) == "0042"
        assert await _nodes(engine) == sorted([open_ended, ending, later])
