"""Background jobs of the Observer, as a procrastinate Blueprint.

The job queue (`almanac.jobs.app`) registers `blueprint` under the `observer` namespace;
the tasks reach the process's AppState through `almanac.jobs.context`, set once by the
worker. Each task opens its own UnitOfWork from that state and commits it, like a request.
"""

from __future__ import annotations

from datetime import date

import procrastinate

from almanac.db.uow import UnitOfWork
from almanac.errors import ValidationFailed
from almanac.jobs.context import get_state, set_state
from almanac.observer.service import ObserverService

blueprint = procrastinate.Blueprint()
__all__ = ["blueprint", "get_state", "run_extract_facts", "run_reflect", "set_state"]


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


async def run_import_zep_facts(client_id: int | None) -> int:
    """Bring the facts Zep extracted for one user into Almanac; returns the decisions made."""
    from almanac.memory.external.factory import external_memory, zep_user_id

    state = get_state()
    provider = external_memory(state)
    if provider is None:
        return 0
    user = zep_user_id(client_id, state.settings.zep.default_user_id)
    hits = await provider.list_facts(user, limit=500)
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            out = await ObserverService(uow, state).facts.import_external(hits, client_id)
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()
    return len(out)


# Idempotent: each Zep fact (by uuid) is decided once.
@blueprint.task(name="import_zep_facts", queue="zep", retry=2)
async def import_zep_facts(client_id: int | None = None) -> None:
    """Import the facts Zep extracted for a client (or the owner) as Almanac facts."""
    await run_import_zep_facts(client_id)
