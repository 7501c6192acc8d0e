"""Background jobs of the Observer, as a procrastinate Blueprint.

The job queue (`almanac.jobs.app`) registers `blueprint` under the `observer` namespace;
the tasks reach the process's AppState through `almanac.jobs.context`, set once by the
worker. Each task opens its own UnitOfWork from that state and commits it, like a request.
"""

from __future__ import annotations

import logging
from datetime import date

import procrastinate
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from almanac.db.uow import unit_of_work
from almanac.errors import AlmanacError, ValidationFailed
from almanac.jobs.app import Backoff
from almanac.jobs.context import get_state, set_state
from almanac.jobs.repository import clear_reason, set_reason
from almanac.memory.port import RemoteMemory, memory_port
from almanac.observer.deps import observer_service
from almanac.observer.facts import ExtractionDeferred
from almanac.observer.remembering import (
    REMEMBER_REFLECTION_TASK,
    remember_in_process,
    remember_stored_reflection,
)
from almanac.planner.context import REMEMBER_QUEUE

logger = logging.getLogger(__name__)

blueprint = procrastinate.Blueprint()
__all__ = ["blueprint", "get_state", "run_extract_facts", "run_reflect", "set_state"]


async def run_reflect(mode: str, day: str | None = None) -> int:
    """Reflect on a period in its own transaction; returns the reflection id."""
    if mode not in ("daily", "weekly"):
        raise ValidationFailed(f"mode must be daily or weekly, not {mode!r}", field="mode")
    parsed = date.fromisoformat(day) if day else None
    state = get_state()
    async with unit_of_work(state.sessionmaker) as uow:
        out = await observer_service(uow, state).reflect(mode, parsed)  # type: ignore[arg-type]
    return out.id


async def run_extract_facts(event_id: int, *, job_id: int | None = None) -> int:
    """Extract facts from one event in its own transaction; returns the decisions made.

    An LLM that is down, too slow or answers nonsense raises `ExtractionDeferred` with
    nothing recorded; the reason is kept for the jobs list (`job_reasons`) and the job is
    retried with backoff.
    """
    state = get_state()
    try:
        async with unit_of_work(state.sessionmaker) as uow:
            out = await observer_service(uow, state).facts.extract(event_id, defer=True)
            if job_id is not None:
                await clear_reason(uow.session, job_id)
    except ExtractionDeferred as exc:  # rolled back: the reason is noted on its own
        if job_id is not None:
            await _note(job_id, exc.message)
        raise
    return 0 if out.already_extracted else len(out.decisions)


async def _note(job_id: int, reason: str) -> None:
    async with unit_of_work(get_state().sessionmaker) as uow:
        await set_reason(uow.session, job_id, reason)


class WaitForLLM(BaseRetryStrategy):
    """Retries extraction that waits for the LLM, or for a Memory Gateway answering 5xx,
    with a long backoff, a bounded number of times; other failures (a bug, the database)
    get the queue's usual short backoff."""

    def __init__(self, llm: Backoff, other: Backoff) -> None:
        self.llm = llm
        self.other = other

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        """Which backoff applies depends on why the job failed."""
        outage = isinstance(exception, AlmanacError) and exception.status_code >= 500
        strategy = self.llm if outage else self.other
        return strategy.get_retry_decision(exception=exception, job=job)


# 1, 2, 4, 8, 16 minutes: an LLM that restarts or a breaker that closes gets its chance.
EXTRACT_RETRY = WaitForLLM(
    Backoff(max_attempts=5, base_seconds=60.0, max_seconds=3600.0),
    Backoff(max_attempts=2, base_seconds=2.0),
)


# Retries are safe: a reflection replaces its period and extraction is idempotent.
@blueprint.task(name="reflect", queue="observer", retry=2)
async def reflect(mode: str, day: str | None = None) -> None:
    """Reflect on a day or week (`day` is YYYY-MM-DD in the user's zone; default today)."""
    await run_reflect(mode, day)


@blueprint.task(name="extract_facts", queue="observer", retry=EXTRACT_RETRY, pass_context=True)
async def extract_facts(context: procrastinate.JobContext, event_id: int) -> None:
    """Extract durable facts from one high-salience event (idempotent per event)."""
    job_id = context.job.id if context.job is not None else None
    await run_extract_facts(event_id, job_id=job_id)


async def run_import_zep_facts(client_id: int | None) -> int:
    """Bring the facts Zep extracted for one user into Almanac; returns the decisions made."""
    from almanac.memory.external.factory import external_memory, zep_user_id

    state = get_state()
    provider = external_memory(state)
    if provider is None:
        return 0
    user = zep_user_id(client_id, state.settings.zep.default_user_id)
    hits = await provider.list_facts(user, limit=500)
    async with unit_of_work(state.sessionmaker) as uow:
        out = await observer_service(uow, state).facts.import_external(hits, client_id, user)
    return len(out)


# Idempotent: each Zep fact (by uuid) is decided once.
@blueprint.task(name="import_zep_facts", queue="zep", retry=2)
async def import_zep_facts(client_id: int | None = None) -> None:
    """Import the facts Zep extracted for a client (or the owner) as Almanac facts."""
    await run_import_zep_facts(client_id)


# Idempotent: the memory goes under the period's own key, and a reflection remembered since
# (or gone) is left as it is. A Gateway still down raises: retried for about a day (backoff
# capped at an hour), as a plan's memory is.
@blueprint.task(
    name=REMEMBER_REFLECTION_TASK.split(":", 1)[1],
    queue=REMEMBER_QUEUE,
    retry=Backoff(max_attempts=30, base_seconds=10.0, max_seconds=3600.0),
)
async def remember_reflection(mode: str, period_start: str) -> None:
    """Remember a reflection made while the (remote) Memory Gateway was unavailable."""
    state = get_state()
    first = date.fromisoformat(period_start)
    event_id: int | None = None
    async with unit_of_work(state.sessionmaker) as uow:
        memory = memory_port(uow, state)
        if not isinstance(memory, RemoteMemory):
            event_id = await remember_in_process(uow, memory, mode, first)
    if isinstance(memory, RemoteMemory):  # no transaction open while the Gateway is asked
        event_id = await remember_stored_reflection(state.sessionmaker, memory, mode, first)
    logger.info("%s reflection of %s: memory %s", mode, period_start, event_id or "not needed")
