"""Facts from experience: decisions on proposals, idempotency, the deterministic path."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.memory.schemas import FactIn
from almanac.memory.service import MemoryService
from almanac.models import Event, Fact
from almanac.models.observer import FactDecision
from almanac.observer.deps import fact_extractor
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply


async def event(session: AsyncSession, salience: float = 0.9, **meta: Any) -> Event:
    row = Event(
        event_type="memory",
        event_source="user",
        content="Call with Acme: they now want meetings after 2 pm, never on Fridays.",
        salience_score=salience,
        metadata_=meta,
    )
    session.add(row)
    await session.flush()
    return row


async def known_facts(session: AsyncSession, state: AppState) -> dict[str, int]:
    facts = MemoryService(UnitOfWork(session), state.embedder, state.cache, state.settings).facts
    pref = await facts.write(
        FactIn(
            subject_type="client",
            subject_id="42",
            fact_type="preference",
            category="meeting_time",
            content="Prefers meetings in the morning",
        )
    )
    ident = await facts.write(
        FactIn(
            subject_type="client", subject_id="42", fact_type="identity", content="Acme is a bakery"
        )
    )
    return {"pref": pref.fact.id, "ident": ident.fact.id}


async def count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


PROPOSALS = [
    # the same as a current fact, up to case and spacing
    {
        "subject_type": "client",
        "subject_id": "42",
        "fact_type": "identity",
        "content": "acme is a  Bakery",
        "salience": 0.8,
    },
    # same subject, type and category: a contradiction that supersedes
    {
        "subject_type": "client",
        "subject_id": 42,
        "fact_type": "preference",
        "category": "meeting_time",
        "content": "Prefers meetings after 2 pm",
        "confidence": 0.9,
    },
    {
        "subject_type": "client",
        "subject_id": "42",
        "fact_type": "constraint",
        "content": "No calls on Fridays",
        "salience": 0.8,
    },
    {"subject_type": "client", "subject_id": "42", "fact_type": "opinion", "content": "Likes cake"},
    {
        "subject_type": "client",
        "subject_id": "42",
        "fact_type": "result",
        "content": "x",
        "salience": 1.7,
    },
]


async def test_llm_proposals_are_added_dropped_superseded_or_rejected(
    db_session: AsyncSession, llm_state: AppState, chat: FakeChatServer
) -> None:
    ids = await known_facts(db_session, llm_state)
    ev = await event(db_session)
    chat.script(Reply.json({"facts": PROPOSALS}))
    out = await fact_extractor(UnitOfWork(db_session), llm_state).extract(ev.id)
    assert out.llm.used and out.llm.prompt_template == "fact_extractor"
    got = [(d.source, d.decision) for d in out.decisions]
    assert got == [
        ("llm", "duplicate"),
        ("llm", "superseded"),
        ("llm", "added"),
        ("llm", "rejected"),
        ("llm", "rejected"),
    ]
    dup, sup, added, bad_type, bad_salience = out.decisions
    assert dup.fact_id == ids["ident"] and dup.reason == f"same as fact {ids['ident']}"
    assert sup.reason == f"supersedes fact {ids['pref']}"
    assert bad_type.fact_id is None and "fact_type" in (bad_type.reason or "")
    assert "salience" in (bad_salience.reason or "")
    old = await db_session.get(Fact, ids["pref"], populate_existing=True)
    new = await db_session.get(Fact, sup.fact_id)
    assert old is not None and old.valid_to is not None
    assert new is not None and new.supersedes_id == old.id and new.source_event_id == ev.id
    assert new.salience_score == 0.9  # "confidence" is accepted for salience
    constraint = await db_session.get(Fact, added.fact_id)
    assert constraint is not None and constraint.content == "No calls on Fridays"
    stored = (await db_session.scalars(select(FactDecision).order_by(FactDecision.id))).all()
    assert [d.decision for d in stored] == [d for _, d in got]
    assert {d.event_id for d in stored} == {ev.id}
    (request,) = chat.chat_requests
    assert "meetings after 2 pm" in request.messages[1]["content"]


async def test_extracting_the_same_event_twice_adds_nothing(
    db_session: AsyncSession, llm_state: AppState, chat: FakeChatServer
) -> None:
    await known_facts(db_session, llm_state)
    ev = await event(db_session)
    chat.script(Reply.json({"facts": PROPOSALS}))
    first = await fact_extractor(UnitOfWork(db_session), llm_state).extract(ev.id)
    facts, decisions = await count(db_session, Fact), await count(db_session, FactDecision)
    again = await fact_extractor(UnitOfWork(db_session), llm_state).extract(ev.id)
    assert again.already_extracted
    assert [d.id for d in again.decisions] == [d.id for d in first.decisions]
    assert len(chat.chat_requests) == 1  # the LLM was not asked again
    assert (await count(db_session, Fact), await count(db_session, FactDecision)) == (
        facts,
        decisions,
    )


async def test_without_an_llm_facts_come_from_the_events_metadata(
    db_session: AsyncSession, state: AppState
) -> None:
    ev = await event(
        db_session,
        subject_type="client",
        subject_id="42",
        fact_type="constraint",
        category="call_days",
    )
    extractor = fact_extractor(UnitOfWork(db_session), state)
    out = await extractor.extract(ev.id)
    assert out.llm.used is False and "no LLM" in out.llm.detail
    (d,) = out.decisions
    assert (d.source, d.decision, d.proposal["category"]) == ("metadata", "added", "call_days")
    fact = await db_session.get(Fact, d.fact_id)
    assert fact is not None and fact.content == ev.content and fact.category == "call_days"
    assert (await extractor.extract(ev.id)).already_extracted
    assert await count(db_session, Fact) == 1


async def test_low_salience_and_subjectless_events_make_no_facts(
    db_session: AsyncSession, state: AppState
) -> None:
    extractor = fact_extractor(UnitOfWork(db_session), state)
    low = await event(db_session, 0.69, subject_type="client", subject_id="1", fact_type="result")
    out = await extractor.extract(low.id)
    assert out.decisions == [] and "under 0.7" in out.llm.detail
    plain = await event(db_session, 0.9)
    assert (await extractor.extract(plain.id)).decisions == []
    assert await count(db_session, Fact) == 0


async def test_an_llm_failure_falls_back_to_the_metadata(
    db_session: AsyncSession, llm_state: AppState, chat: FakeChatServer
) -> None:
    ev = await event(db_session, subject_type="client", subject_id="7", fact_type="identity")
    chat.script(Reply(content="nope"), Reply(content="nope"))
    out = await fact_extractor(UnitOfWork(db_session), llm_state).extract(ev.id)
    assert out.llm.used is False and out.llm.detail.startswith("the LLM")
    assert out.llm.detail.endswith("facts come from the event's metadata")
    assert [(d.source, d.decision) for d in out.decisions] == [("metadata", "added")]


async def test_one_unstorable_proposal_is_rejected_alone_and_the_others_kept(
    db_session: AsyncSession, llm_state: AppState, chat: FakeChatServer
) -> None:
    # A NUL in one proposal made the whole answer invalid (repaired, then the metadata
    # fallback): the good facts beside it were lost. Each proposal is judged on its own.
    ev = await event(db_session)
    good = {
        "subject_type": "client",
        "subject_id": "42",
        "fact_type": "constraint",
        "content": "No calls on Fridays",
        "salience": 0.8,
    }
    bad = {**good, "fact_type": "preference", "content": "Prefers meetings\x00 after 2 pm"}
    also = {**good, "fact_type": "identity", "subject_id": "4\x002", "content": "Acme bakes"}
    answer = json.dumps({"facts": [good, bad, also]})  # \u0000 in the JSON
    chat.script(Reply(content=answer), Reply(content=answer))
    out = await fact_extractor(UnitOfWork(db_session), llm_state).extract(ev.id)
    assert out.llm.used, out.llm
    assert len(chat.chat_requests) == 1  # no repair asked for the good ones' sake
    assert [d.decision for d in out.decisions] == ["added", "rejected", "rejected"]
    added, nul, lone = out.decisions
    fact = await db_session.get(Fact, added.fact_id)
    assert fact is not None and fact.content == "No calls on Fridays"
    assert "content" in (nul.reason or "") and "NUL" in (nul.reason or "")
    assert "subject_id" in (lone.reason or "") and "NUL" in (lone.reason or "")
    stored = (await db_session.scalars(select(FactDecision).order_by(FactDecision.id))).all()
    assert [d.proposal.get("content") for d in stored[1:2]] == ["Prefers meetings\ufffd after 2 pm"]
