"""Revision 0041 on a database of its own: after it, two clients hold a current fact in
one slot; going back closes the older of them, so the narrower index can be rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from almanac.db.migrate import current_revision, upgrade
from tests.databases import downgrade, scratch_engine

FACT = """
INSERT INTO facts (subject_type, subject_id, fact_type, category, content, client_id,
                   valid_from)
VALUES ('user', 'me', 'preference', 'hours', :content, :client, :at)
"""
CURRENT = "SELECT content FROM facts WHERE valid_to IS NULL ORDER BY content"


async def test_fact_slot_per_client_upgrade_and_downgrade(pg_url: str) -> None:
    async with scratch_engine(pg_url, "almanac_fact_slot_migration") as engine:
        await upgrade(engine, "0041")
        assert await current_revision(engine) == "0041"
        async with engine.begin() as conn:
            await conn.execute(
                text(FACT), {"content": "a", "client": 101, "at": datetime(2026, 1, 1, tzinfo=UTC)}
            )
            await conn.execute(
                text(FACT), {"content": "b", "client": 202, "at": datetime(2026, 2, 1, tzinfo=UTC)}
            )
            await conn.execute(
                text(FACT),
                {"content": "own", "client": None, "at": datetime(2026, 3, 1, tzinfo=UTC)},
            )
        with pytest.raises(IntegrityError, match="uq_facts_current_slot"):
            async with engine.begin() as conn:
                await conn.execute(
                    text(FACT),
                    {"content": "c", "client": 101, "at": datetime(2026, 4, 1, tzinfo=UTC)},
                )
        await downgrade(engine, "0040")
        async with engine.connect() as conn:
            assert [r[0] for r in (await conn.execute(text(CURRENT))).all()] == ["own"]
        await upgrade(engine, "0041")
        assert await current_revision(engine) == "0041"
