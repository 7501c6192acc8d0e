"""Extraction from a client's memory checks for duplicates among that client's facts and
the user's own: another client's fact with the same words is not this client's, so the
fact is added for this client and the record names no other client's fact."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.memory.schemas import FactIn
from almanac.memory.service import MemoryService
from almanac.models import Event, Fact
from almanac.observer.deps import fact_extractor
from almanac.state import AppState

WORDS = "No calls on Fridays"
SLOT = {"subject_type": "user", "subject_id": "me", "fact_type": "constraint"}


async def client_event(session: AsyncSession, client_id: int | None) -> Event:
    row = Event(
        event_type="memory",
        event_source="user",
        content=WORDS,
        client_id=client_id,
        salience_score=0.9,
        metadata_=dict(SLOT),
    )
    session.add(row)
    await session.flush()
    return row


async def test_another_clients_fact_is_no_duplicate_of_this_clients(
    db_session: AsyncSession, state: AppState
) -> None:
    memory = MemoryService(UnitOfWork(db_session), state.embedder, state.cache, state.settings)
    theirs = (await memory.facts.write(FactIn(**SLOT, content=WORDS, client_id=101))).fact
    ev = await client_event(db_session, 202)
    out = await fact_extractor(UnitOfWork(db_session), state).extract(ev.id)
    (d,) = out.decisions
    assert d.decision == "added", d.reason
    assert d.fact_id != theirs.id
    fact = await db_session.get(Fact, d.fact_id)
    assert fact is not None and fact.client_id == 202


async def test_the_users_own_fact_is_a_duplicate_for_every_client(
    db_session: AsyncSession, state: AppState
) -> None:
    memory = MemoryService(UnitOfWork(db_session), state.embedder, state.cache, state.settings)
    own = (await memory.facts.write(FactIn(**SLOT, content=WORDS))).fact
    ev = await client_event(db_session, 202)
    (d,) = (await fact_extractor(UnitOfWork(db_session), state).extract(ev.id)).decisions
    assert (d.decision, d.fact_id) == ("duplicate", own.id)


HELD = "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"


async def test_a_clients_proposals_lock_the_slots_their_writes_take(
    db_session: AsyncSession, state: AppState
) -> None:
    # `decide_all` locks every slot first, in one order, so two jobs cannot deadlock; the
    # slot is whose the fact is, so the locks taken first must be the client's slots (the
    # writes then take no lock of their own, in proposal order).
    proposals = [
        {**SLOT, "category": "calls", "content": "No calls on Fridays"},
        {**SLOT, "category": "hours", "content": "Works 9 to 5"},
    ]
    extractor = fact_extractor(UnitOfWork(db_session), state)
    await extractor.lock_slots(proposals, 202)
    before = set((await db_session.execute(text(HELD))).scalars())
    for p in proposals:
        assert (await extractor.decide(p, "llm", None, 202)).decision == "added"
    after = set((await db_session.execute(text(HELD))).scalars())
    assert after == before


async def test_a_fact_about_another_client_is_no_duplicate_of_this_clients(
    db_session: AsyncSession, state: AppState
) -> None:
    # Stated without a client, a fact about client:101 is 101's (its slot's owner), and
    # client 202 cannot see it: 202's memory saying the same adds 202's own fact, and its
    # record names no fact of 101's.
    about = {"subject_type": "client", "subject_id": "101", "fact_type": "constraint"}
    memory = MemoryService(UnitOfWork(db_session), state.embedder, state.cache, state.settings)
    theirs = (await memory.facts.write(FactIn(**about, content=WORDS))).fact
    row = Event(
        event_type="memory",
        event_source="user",
        content=WORDS,
        client_id=202,
        salience_score=0.9,
        metadata_=dict(about),
    )
    db_session.add(row)
    await db_session.flush()
    (d,) = (await fact_extractor(UnitOfWork(db_session), state).extract(row.id)).decisions
    assert d.decision == "added", d.reason
    assert d.fact_id != theirs.id
