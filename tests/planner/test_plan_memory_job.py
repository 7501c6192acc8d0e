"""The queued job that remembers a plan the Memory Gateway could not take when it was made
(`almanac:remember_plan`), as a worker runs it: its own transaction, the memory port its
process has (here the Gateway in-process, as in `almanac serve memory`'s worker).

Against a real Gateway process (the two-process case) see tests/memory/test_gateway_hop.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.background import task_blueprints
from almanac.config import Settings
from almanac.db.uow import unit_of_work
from almanac.jobs.app import build_app
from almanac.jobs.context import set_state
from almanac.models import Plan
from almanac.ontology.sop import SOP
from almanac.planner.context import REMEMBER_TASK
from almanac.planner.tasks import remember_plan
from almanac.state import AppState

DRAFT = SOP.model_validate(
    {
        "title": "Harbour audit",
        "steps": [
            {
                "id": "prepare",
                "title": "Prepare the audit",
                "tasks": [{"id": "list", "title": "List the berths", "estimate_hours": 2}],
            }
        ],
    }
)


@pytest.fixture
def worker_state(committed_state: AppState) -> Iterator[AppState]:
    set_state(committed_state)
    yield committed_state
    set_state(None)


async def _committed_plan(state: AppState, client_id: int | None) -> int:
    async with unit_of_work(state.sessionmaker) as uow:
        plan = Plan(
            plan_title=DRAFT.title,
            intent="audit the harbour",
            sop=DRAFT.model_dump(mode="json"),
            client_id=client_id,
            status="draft",
        )
        uow.session.add(plan)
        await uow.session.flush()
        return plan.id


async def _memories(engine: AsyncEngine, plan_id: int) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT idempotency_key, content FROM events WHERE idempotency_key LIKE :k "
                "ORDER BY id"
            ),
            {"k": f"plan:{plan_id}%"},
        )
        return [(str(k), str(c)) for k, c in rows]


def test_the_task_is_registered_under_the_name_the_planner_queues(settings: Settings) -> None:
    app = build_app(settings, "postgresql://nobody@127.0.0.1/none", task_blueprints())
    assert REMEMBER_TASK in app.tasks


async def test_the_job_remembers_the_plan_once_as_drafted(
    worker_state: AppState, engine: AsyncEngine
) -> None:
    plan_id = await _committed_plan(worker_state, 7401)
    async with unit_of_work(worker_state.sessionmaker) as uow:  # an edit before the job runs
        await uow.session.execute(
            text(
                "INSERT INTO plan_versions (plan_id, version, plan_title, sop, status) "
                "SELECT id, 1, plan_title, sop, status FROM plans WHERE id = :id"
            ),
            {"id": plan_id},
        )
        await uow.session.execute(
            text("UPDATE plans SET plan_title = 'Renamed', version = 2 WHERE id = :id"),
            {"id": plan_id},
        )

    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]
    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]  # a rerun

    stored = await _memories(engine, plan_id)
    assert [k for k, _ in stored] == [f"plan:{plan_id}"]
    assert stored[0][1].startswith("Plan: Harbour audit (2 h). Intent: audit the harbour.")


async def test_the_job_for_a_plan_gone_since_writes_nothing(
    worker_state: AppState, engine: AsyncEngine
) -> None:
    plan_id = await _committed_plan(worker_state, 7402)
    async with unit_of_work(worker_state.sessionmaker) as uow:  # its client forgotten
        await uow.session.execute(text("DELETE FROM plans WHERE id = :id"), {"id": plan_id})
    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]
    assert await _memories(engine, plan_id) == []
