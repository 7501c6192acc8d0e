"""Background tasks: they need the worker's AppState and commit their own transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from almanac.errors import ValidationFailed
from almanac.observer import tasks
from almanac.state import AppState


@pytest.fixture
def worker_state(committed_state: AppState) -> Iterator[AppState]:
    tasks.set_state(committed_state)
    yield committed_state
    tasks.set_state(None)


def test_tasks_say_clearly_when_the_state_was_not_set() -> None:
    tasks.set_state(None)
    with pytest.raises(RuntimeError, match="set_state"):
        tasks.get_state()


def test_the_blueprint_holds_both_tasks() -> None:
    assert set(tasks.blueprint.tasks) >= {"reflect", "extract_facts"}


async def test_reflect_task_commits_one_reflection_per_period(worker_state: AppState) -> None:
    first = await tasks.run_reflect("weekly", "2026-11-12")
    second = await tasks.run_reflect("weekly", "2026-11-09")
    assert first == second
    async with worker_state.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT mode, period_start::text FROM reflections"))).all()
        events = await conn.scalar(
            text("SELECT count(*) FROM events WHERE event_type = 'reflection'")
        )
    assert [tuple(r) for r in rows] == [("weekly", "2026-11-09")]
    assert events == 1


async def test_reflect_task_rejects_a_bad_mode(worker_state: AppState) -> None:
    with pytest.raises(ValidationFailed):
        await tasks.run_reflect("monthly")
