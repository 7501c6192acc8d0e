"""A memory without a client id but about a client (metadata `subject_type: client`) is
that client's, as recall and the facts listing read it: the facts the LLM extracts from it
are that client's too, never the user's own, which every other client's plans read."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.models import Event, Fact
from almanac.observer.deps import fact_extractor
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client, ok
from tests.doubles.openai_chat import FakeChatServer, Reply

A, B = 41, 42
SAID = "Ana from the finance team prefers kickoff calls before 10 am"
PROPOSAL = {
    "subject_type": "person",
    "subject_id": "ana",
    "fact_type": "preference",
    "content": SAID,
    "salience": 0.8,
}


async def test_facts_extracted_from_a_memory_about_a_client_are_that_clients(
    db_session: AsyncSession, llm_state: AppState, chat: FakeChatServer
) -> None:
    event = Event(
        event_type="note",
        event_source="test",
        content=f"Call notes: {SAID}.",
        salience_score=0.9,
        metadata_={"subject_type": "client", "subject_id": str(A)},
    )
    db_session.add(event)
    await db_session.flush()
    chat.script(Reply.json({"facts": [PROPOSAL]}))
    out = await fact_extractor(UnitOfWork(db_session), llm_state).extract(event.id)
    (decision,) = out.decisions
    assert decision.decision == "added", decision.reason
    fact = await db_session.get(Fact, decision.fact_id)
    assert fact is not None and fact.client_id == A

    async with http_client(app_in_transaction(llm_state, db_session)) as api:
        for scope, shown in ((A, True), (B, False), (0, False)):
            facts = await ok(await api.get("/api/v1/memory/facts", params={"for_client": scope}))
            assert any(f["content"] == SAID for f in facts) == shown, (scope, facts)
            recall = await ok(
                await api.get(
                    "/api/v1/memory/recall",
                    params={"query": SAID, "for_client": scope, "kinds": "fact"},
                )
            )
            assert any(h["content"] == SAID for h in recall["results"]) == shown, (scope, recall)
