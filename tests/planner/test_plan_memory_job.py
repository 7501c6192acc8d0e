"""The queued job that remembers a plan the Memory Gateway could not take when it was made
(`almanac:remember_plan`), as a worker runs it: its own transaction, the memory port its
process has (here the Gateway in-process, as in `almanac serve memory`'s worker).

Against a real Gateway process (the two-process case) see tests/memory/test_gateway_hop.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.background import task_blueprints
from almanac.config import Settings
from almanac.db.uow import unit_of_work
from almanac.jobs.app import build_app
from almanac.jobs.context import set_state
from almanac.memory.port import InProcessMemory, RemoteMemory, memory_service
from almanac.memory.schemas import RememberIn
from almanac.models import Plan
from almanac.ontology.sop import SOP
from almanac.planner.context import REMEMBER_TASK, REMEMBERED_LATER_NOTE, UNREMEMBERED_NOTE
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


async def _committed_plan(
    state: AppState, client_id: int | None, metadata: dict[str, Any] | None = None
) -> int:
    async with unit_of_work(state.sessionmaker) as uow:
        plan = Plan(
            plan_title=DRAFT.title,
            intent="audit the harbour",
            sop=DRAFT.model_dump(mode="json"),
            client_id=client_id,
            status="draft",
            metadata_=metadata or {},
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


QUEUED = {
    "degraded": ["memory"],
    "notes": [
        "planned without recalled memories",
        f"{UNREMEMBERED_NOTE} (the Memory Gateway is unavailable): remembering it is queued",
        "estimates from the library",
    ],
}


async def _notes(engine: AsyncEngine, plan_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        meta = await conn.scalar(text("SELECT metadata FROM plans WHERE id = :id"), {"id": plan_id})
    assert isinstance(meta, dict)
    return meta


@pytest.mark.parametrize("remote", [False, True])
async def test_once_remembered_the_plan_no_longer_says_it_is_not(
    worker_state: AppState, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, remote: bool
) -> None:
    """The note that the plan was not yet remembered stayed after the job remembered it.
    The plan was still made without recalled memories: that note and `degraded` stay."""
    plan_id = await _committed_plan(worker_state, 7405, QUEUED)
    if remote:

        async def nothing() -> None:
            return None

        _remote(monkeypatch, SlowGateway(worker_state, nothing))
    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]
    assert await _notes(engine, plan_id) == {
        "degraded": ["memory"],
        "notes": [
            "planned without recalled memories",
            "estimates from the library",
            REMEMBERED_LATER_NOTE,
        ],
    }
    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]  # a rerun
    assert (await _notes(engine, plan_id))["notes"].count(REMEMBERED_LATER_NOTE) == 1


class SlowGateway(RemoteMemory):
    """A Gateway in another process (its own service, its own transactions) during whose
    remember call `meanwhile` runs: what a user or a forget does while the Gateway is slow."""

    def __init__(self, state: AppState, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.state, self.meanwhile = state, meanwhile

    async def remember(self, item: RememberIn) -> int:
        await self.meanwhile()
        async with unit_of_work(self.state.sessionmaker) as uow:
            return await InProcessMemory(memory_service(uow, self.state)).remember(item)

    async def forget_event(self, event_id: int) -> None:
        async with unit_of_work(self.state.sessionmaker) as uow:
            await memory_service(uow, self.state).delete_event(event_id)


def _remote(monkeypatch: pytest.MonkeyPatch, gateway: SlowGateway) -> None:
    monkeypatch.setattr("almanac.planner.tasks.memory_port", lambda uow, state: gateway)


async def test_a_slow_gateway_does_not_hold_up_an_edit_of_the_plan(
    worker_state: AppState, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await _committed_plan(worker_state, 7403)

    async def edit() -> None:  # an edit or approval locks the plan FOR UPDATE
        async with engine.begin() as conn:
            await conn.execute(
                text("SELECT id FROM plans WHERE id = :id FOR UPDATE NOWAIT"), {"id": plan_id}
            )
            await conn.execute(
                text("UPDATE plans SET plan_title = 'Edited' WHERE id = :id"), {"id": plan_id}
            )

    _remote(monkeypatch, SlowGateway(worker_state, edit))
    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]

    stored = await _memories(engine, plan_id)
    assert [k for k, _ in stored] == [f"plan:{plan_id}"]
    async with engine.connect() as conn:
        title = await conn.scalar(
            text("SELECT plan_title FROM plans WHERE id = :id"), {"id": plan_id}
        )
    assert title == "Edited"


async def test_a_forget_while_the_gateway_is_slow_leaves_no_plan_memory(
    worker_state: AppState, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await _committed_plan(worker_state, 7404)

    async def forget() -> None:  # the client forgotten before the Gateway commits
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            await conn.execute(text("DELETE FROM plans WHERE client_id = 7404"))
            await conn.execute(text("DELETE FROM events WHERE client_id = 7404"))

    _remote(monkeypatch, SlowGateway(worker_state, forget))
    await remember_plan.func(plan_id=plan_id)  # type: ignore[attr-defined]

    assert await _memories(engine, plan_id) == []
