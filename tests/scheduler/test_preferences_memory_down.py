"""With memory unavailable, a solve uses the preferences the newest run read from it."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import Memories, make_plan, parse
from .test_preferences import schedule

TASKS = [{"key": f"t{n}", "estimate_hours": 1.0} for n in range(3)]


async def test_memory_down_uses_the_preferences_the_last_run_read(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
) -> None:
    await memory.add("preference", "No work before 11", "max 2 hours a day")
    first = await schedule(sched_client, (await make_plan(db_session, TASKS)).id)
    assert first["preferences"]["source"] == "rules"

    memory.gateway_down()
    out = await schedule(sched_client, (await make_plan(db_session, TASKS)).id)
    # Before, the settings' 09:00 start and full days held: the user's own words were lost
    # for as long as the Gateway was down, and a sync moved blocks by the defaults.
    assert out["preferences"]["source"] == "stored"
    assert out["preferences"]["applied"]
    assert any("memory unavailable" in w for w in out["warnings"])
    assert any(f"scheduler run {first['run_id']}" in w for w in out["warnings"])
    assert out["blocks"]
    per_day: dict[str, int] = {}
    for b in out["blocks"]:
        start = parse(b["start"])
        assert start.hour >= 11, b
        per_day[start.date().isoformat()] = per_day.get(start.date().isoformat(), 0) + 1
    assert max(per_day.values()) <= 2


async def test_memory_down_without_a_run_that_read_it_uses_the_defaults(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
) -> None:
    await memory.add("preference", "No work before 11")
    memory.gateway_down()
    first = await schedule(sched_client, (await make_plan(db_session, TASKS)).id)
    assert first["preferences"]["source"] == "defaults"
    # A run solved without memory keeps nothing to fall back on: the next is the same.
    again = await schedule(sched_client, (await make_plan(db_session, TASKS)).id)
    assert again["preferences"]["source"] == "defaults"
    assert not any("scheduler run" in w for w in again["warnings"])


async def test_memory_down_for_a_new_clients_plan_uses_the_users_own_stored_preferences(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
) -> None:
    """A client whose plans never read memory got the defaults while the Gateway was down,
    though a run of the user's own plans had read the user's preferences: those apply to
    every client. Another client's run is never used (its client's preferences with it)."""
    await memory.add("preference", "No work before 11")
    own = await schedule(sched_client, (await make_plan(db_session, TASKS)).id)
    assert own["preferences"]["source"] == "rules"
    memory.gateway_down()
    plan = await make_plan(db_session, TASKS, title="Initech onboarding")
    plan.client_id = 3
    await db_session.flush()
    out = await schedule(sched_client, plan.id)
    assert out["preferences"]["source"] == "stored", out["preferences"]
    assert any(f"scheduler run {own['run_id']}" in w for w in out["warnings"]), out["warnings"]
    assert any("your own plans" in w for w in out["warnings"]), out["warnings"]
    assert all(parse(b["start"]).hour >= 11 for b in out["blocks"]), out["blocks"]
