"""Sending salient memories to the external memory, from the job queue."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import unit_of_work
from almanac.jobs.queue import JobAlreadyQueued, enqueue
from almanac.memory.external.base import OutgoingMessage
from almanac.memory.external.factory import external_memory, zep_thread_id, zep_user_id
from almanac.memory.external.repository import SentMarks
from almanac.memory.repository import EventRepository, FactRepository
from almanac.state import AppState

logger = logging.getLogger(__name__)

# Zep extracts facts from new messages in the background: look for them a minute later.
IMPORT_DELAY = timedelta(seconds=60)
IMPORT_TASK = "observer:import_zep_facts"  # the observer's task, named, not imported


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
        user = zep_user_id(event.client_id, state.settings.zep.default_user_id)
        thread = zep_thread_id(user, event.session_id)
        message = OutgoingMessage(
            event_id=event.id,
            content=event.content,
            occurred_at=event.occurred_at,
            name=event.event_source,
        )
        sent = await provider.add_messages(user, thread, [message])
        await events.set_zep_session(event.id, thread)
        await queue_import(session, event.client_id, user)
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
        user = zep_user_id(fact.client_id, state.settings.zep.default_user_id)
        zep_id = await provider.add_fact(user, fact.id, fact.content, fact.valid_from)
        await facts.set_zep_fact(fact.id, zep_id)
    return True
