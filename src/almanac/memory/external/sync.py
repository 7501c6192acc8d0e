"""Sending salient memories to the external memory, from the job queue."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import unit_of_work
from almanac.jobs.queue import JobAlreadyQueued, enqueue
from almanac.memory.external.base import ExternalMemoryError, OutgoingMessage
from almanac.memory.external.factory import external_memory, zep_thread_id, zep_user_id
from almanac.memory.external.repository import SentMarks
from almanac.memory.repository import EventRepository, FactRepository
from almanac.state import AppState

logger = logging.getLogger(__name__)

# Zep extracts facts from new messages in the background: look for them a minute later.
IMPORT_DELAY = timedelta(seconds=60)
IMPORT_TASK = "observer:import_zep_facts"  # the observer's task, named, not imported
DATES_TASK = "almanac:zep_fact_dates"


async def queue_import(session: AsyncSession, client_id: int | None, user: str) -> None:
    """One waiting import of Zep's facts per user, whatever the number of sends."""
    try:
        await enqueue(
            session,
            IMPORT_TASK,
            args={"client_id": client_id},
            queue="zep",
            queueing_lock=f"zep-import:{user}",
            schedule_at=datetime.now(UTC) + IMPORT_DELAY,
        )
    except JobAlreadyQueued:
        pass


async def send_event(state: AppState, event_id: int) -> bool:
    """Send one event to Zep unless it is already there; True when a message was sent.

    Safe to run twice: the event's `zep_session_id` marks a finished send, and a send whose
    commit was lost (worker crash) is found in the thread by its event id and not repeated.
    Its client's data lock, held from before the call to Zep to the commit, keeps the
    last deletion of the thread in Zep (`forget.run_job`, under the lock) wholly before
    or after it.
    """
    provider = external_memory(state)
    if provider is None:
        return False
    async with unit_of_work(state.sessionmaker) as uow:
        session = uow.session
        events = EventRepository(session)
        found, client_id = await SentMarks(session).client_of_event(event_id)
        if not found:
            return False
        await SentMarks(session).lock_one(client_id)  # before the row's lock, as a forget
        # Row lock: two workers running the same job cannot both send.
        event = await events.get(event_id, for_update=True)
        if event is None or event.zep_session_id is not None:
            return False
        # Whose it is (its client, or the client it is about), as the lock above.
        user = zep_user_id(client_id, state.settings.zep.default_user_id)
        thread = zep_thread_id(user, event.session_id)
        message = OutgoingMessage(
            event_id=event.id,
            content=event.content,
            occurred_at=event.occurred_at,
            name=event.event_source,
        )
        sent = await provider.add_messages(user, thread, [message])
        await events.set_zep_session(event.id, thread)
        await queue_import(session, client_id, user)
    logger.info("zep: event %d %s thread %s", event_id, "sent to" if sent else "already in", thread)
    return bool(sent)


async def send_fact(state: AppState, fact_id: int) -> bool:
    """Write one Almanac fact into its user's Zep graph; True when this run wrote it.

    Safe to run twice: `zep_fact_id` marks a finished write, and a write whose commit was
    lost is found among the user's recent graph episodes by its fact id. It holds its
    client's data lock as `send_event` does (a deletion of the user in Zep deletes it).
    """
    provider = external_memory(state)
    if provider is None:
        return False
    async with unit_of_work(state.sessionmaker) as uow:
        facts = FactRepository(uow.session)
        found, client_id = await SentMarks(uow.session).client_of_fact(fact_id)
        if not found:
            return False
        await SentMarks(uow.session).lock_one(client_id)
        fact = await facts.get(fact_id, for_update=True)
        if fact is None or fact.zep_fact_id is not None:
            return False
        user = zep_user_id(client_id, state.settings.zep.default_user_id)
        zep_id = await provider.add_fact(user, fact.id, fact.content, fact.valid_from)
        await facts.set_zep_fact(fact.id, zep_id)
        if fact.valid_to is not None:
            # Ended before it was sent (or sent again after a forget): Zep learns it as
            # true, so its end follows once Zep has learnt it.
            await queue_dates(uow.session, fact.id, delay=IMPORT_DELAY)
    return True


async def queue_dates(session: AsyncSession, fact_id: int, delay: timedelta | None = None) -> None:
    """Queue `send_fact_dates` for a fact whose validity changed (in `session`'s
    transaction)."""
    at = datetime.now(UTC) + delay if delay is not None else None
    await enqueue(session, DATES_TASK, args={"fact_id": fact_id}, queue="zep", schedule_at=at)


class NotLearntYet(ExternalMemoryError):
    """Zep has not yet learnt anything from the fact's episode: the job asks again."""


async def send_fact_dates(state: AppState, fact_id: int) -> int:
    """Give what Zep learnt from a fact the fact's validity (its end once it is superseded
    or ended, its start once restated from earlier); the number of Zep facts dated.

    Zep's copy of a fact is an episode of the user's graph, from which Zep extracts edges
    in the background; each edge holds its own `valid_at`/`invalid_at`, and recall (and the
    Observer's import) leave out an edge invalid by now. An edge also learnt from another
    fact's episode that is still valid is that fact's too and is left as it is. A fact
    not in Zep yet has nothing to date: its send queues this job once it is written.
    Idempotent: it sets the same dates again. Under the client's data lock, as the send.
    """
    provider = external_memory(state)
    if provider is None:
        return 0
    async with unit_of_work(state.sessionmaker) as uow:
        marks = SentMarks(uow.session)
        found, client_id = await marks.client_of_fact(fact_id)
        if not found:
            return 0
        await marks.lock_one(client_id)
        fact = await FactRepository(uow.session).get(fact_id)
        if fact is None or fact.zep_fact_id is None:
            return 0
        episode = fact.zep_fact_id
        user = zep_user_id(client_id, state.settings.zep.default_user_id)
        edges = await provider.fact_edges(user, episode)
        if edges is None:
            raise NotLearntYet(f"zep has not yet learnt from fact {fact_id}'s episode")
        others = {e for edge in edges for e in edge.episodes if e != episode}
        live = await marks.live_fact_episodes(sorted(others), datetime.now(UTC))
        refs = [edge.ref for edge in edges if not live & set(edge.episodes)]
        await provider.date_edges(refs, fact.valid_from, fact.valid_to)
    logger.info("zep: fact %d dated in %d of its %d zep facts", fact_id, len(refs), len(edges))
    return len(refs)
