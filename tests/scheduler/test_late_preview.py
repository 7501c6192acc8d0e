"""A preview applied after its blocks began is refused, not written into the past."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan
from almanac.scheduler.writer import Writer

from .conftest import almanac_entries, make_plan, next_monday, parse

URL = "/api/v1/scheduler"
TASKS = [{"key": f"t{i}", "estimate_hours": 1.5, "priority": 2} for i in range(3)]


async def schedule(client: httpx.AsyncClient, plan_id: int, **kw: object) -> httpx.Response:
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "horizon_days": 5, **kw}
    return await client.post(f"{URL}/schedule", json=body)


def apply_at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """Apply previews as if `when` were now (the preview was made earlier)."""
    original = Writer.apply_preview

    async def later(
        self: Writer, plan: Plan, run_id: int, tz: ZoneInfo, now: datetime, given: Any
    ) -> Any:
        return await original(self, plan, run_id, tz, when, given)

    monkeypatch.setattr(Writer, "apply_preview", later)


async def test_a_preview_whose_blocks_began_is_409_and_writes_nothing(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    plan_id = (await make_plan(db_session, TASKS)).id
    preview = (await schedule(sched_client, plan_id)).json()
    first = min(parse(b["start"]) for b in preview["blocks"])
    apply_at(monkeypatch, first + timedelta(minutes=1))
    r = await schedule(sched_client, plan_id, dry_run=False, run_id=preview["run_id"])
    assert r.status_code == 409, r.text
    errors = r.json()["errors"]
    assert errors and all(e["field"] == "run_id" for e in errors)
    assert any("has started" in e["message"] for e in errors)
    assert "preview again" in r.json()["detail"]
    assert await almanac_entries(db_session) == []
    # Still before its first block, the same preview is written as shown.
    monkeypatch.undo()
    apply_at(monkeypatch, first - timedelta(minutes=1))
    r = await schedule(sched_client, plan_id, dry_run=False, run_id=preview["run_id"])
    assert r.status_code == 200, r.text
    assert len(await almanac_entries(db_session)) == len(preview["blocks"])
