"""Revision 0040 on a database of its own with plans in it: the columns and the unique
index come and go, and the plans stay."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from almanac.db.migrate import current_revision, upgrade
from tests.databases import downgrade, scratch_engine

PLANS = """
INSERT INTO plans (id, plan_title, intent, sop) VALUES
  (101, 'Old plan', 'made before keys', '{}'::jsonb), (102, 'Other', 'also old', '{}'::jsonb)
"""
KEYED = """
INSERT INTO plans (plan_title, intent, sop, idempotency_key, idempotency_caller)
VALUES ('Keyed', 'with a key', '{}'::jsonb, 'k-1', :caller)
"""
COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_name = 'plans' AND column_name LIKE 'idempotency%' ORDER BY 1
"""


async def test_plan_idempotency_columns_upgrade_and_downgrade(pg_url: str) -> None:
    async with scratch_engine(pg_url, "almanac_plan_idempotency_migration") as engine:
        await upgrade(engine)
        await downgrade(engine, "0039")
        async with engine.begin() as conn:
            assert (await conn.execute(text(COLUMNS))).all() == []
            await conn.execute(text(PLANS))
        await upgrade(engine, "0040")
        assert await current_revision(engine) == "0040"
        async with engine.begin() as conn:
            got = [r[0] for r in (await conn.execute(text(COLUMNS))).all()]
            assert got == ["idempotency_caller", "idempotency_hash", "idempotency_key"]
            await conn.execute(text(KEYED), {"caller": 1})
            await conn.execute(text(KEYED), {"caller": 2})  # another caller's key is its own
        with pytest.raises(IntegrityError, match="uq_plans_idempotency"):
            async with engine.begin() as conn:
                await conn.execute(text(KEYED), {"caller": 1})
        await downgrade(engine, "0039")
        async with engine.connect() as conn:
            assert (await conn.execute(text(COLUMNS))).all() == []
            count = (await conn.execute(text("SELECT count(*) FROM plans"))).scalar_one()
        assert count == 4
        await upgrade(engine, "0040")
        assert await current_revision(engine) == "0040"
