"""Background jobs of the Observer, as a procrastinate Blueprint.

The job queue (`almanac.jobs`, written separately) adds `blueprint` to its App and, when
the worker starts, hands this module the process's AppState:

    from almanac.observer import tasks as observer_tasks
    app.add_tasks_from(observer_tasks.blueprint, namespace="observer")
    observer_tasks.set_state(state)  # once, at worker start-up

Each task opens its own UnitOfWork from that state and commits it, like a request does.
"""

from __future__ import annotations

from datetime import date

import procrastinate

from almanac.db.uow import UnitOfWork
from almanac.errors import ValidationFailed
from almanac.observer.service import ObserverService
from almanac.state import AppState

blueprint = procrastinate.Blueprint()

_state: AppState | None = None


def set_state(state: AppState | None) -> None:
    """Give the tasks the worker's AppState (None forgets it, e.g. at shutdown)."""
    global _state
    _state = state


def get_state() -> AppState:
    """The AppState set by the worker; a clear error when it was never set."""
    if _state is None:
        raise RuntimeError(
            "observer tasks need the AppState: call almanac.observer.tasks.set_state(state) "
            "when the worker starts"
        )
    return _state


async def run_reflect(mode: str, day: str | None = None) -> int:
    """Reflect on a period in its own transaction; returns the reflection id."""
    if mode not in ("daily", "weekly"):
        raise ValidationFailed(f"mode must be daily or weekly, not {mode!r}", field="mode")
    parsed = date.fromisoformat(day) if day else None
    state = get_state()
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            out = await ObserverService(uow, state).reflect(mode, parsed)  # type: ignore[arg-type]
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()
    return out.id


async def run_extract_facts(event_id: int) -> int:
    """Extract facts from one event in its own transaction; returns the decisions made."""
    state = get_state()
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            out = await ObserverService(uow, state).facts.extract(event_id)
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()
    return 0 if out.already_extracted else len(out.decisions)


# Retries are safe: a reflection replaces its period and extraction is idempotent.
@blueprint.task(name="reflect", queue="observer", retry=2)
async def reflect(mode: str, day: str | None = None) -> None:
    """Reflect on a day or week (`day` is YYYY-MM-DD in the user's zone; default today)."""
    await run_reflect(mode, day)


@blueprint.task(name="extract_facts", queue="observer", retry=2)
async def extract_facts(event_id: int) -> None:
    """Extract durable facts from one high-salience event (idempotent per event)."""
    await run_extract_facts(event_id)
