"""How one fact proposal is decided: validated, checked against the subject's current facts,
written through the Memory Gateway's FactService and recorded as a `fact_decisions` row
(added, duplicate, superseded or rejected). `observer.facts` says where proposals come from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError
from almanac.llm.base import LLMClient
from almanac.memory.port import MemoryPort
from almanac.memory.repository import EventRepository
from almanac.memory.schemas import FactIn, FactsQuery
from almanac.models.observer import FactDecision
from almanac.observer.proposals import storable
from almanac.observer.repository import ObserverRepository
from almanac.observer.schemas import FactDecisionOut, FactProposal, Source, fact_source


def decision_out(row: FactDecision) -> FactDecisionOut:
    """The API shape of a decision row."""
    return FactDecisionOut.model_validate(row, from_attributes=True)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "proposal"
        parts.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _fact_in(
    p: FactProposal,
    source: Source,
    client_id: int | None = None,
    valid_from: datetime | None = None,
) -> FactIn:
    return FactIn(
        subject_type=p.subject_type,
        subject_id=p.subject_id,
        fact_type=p.fact_type,
        content=p.content,
        salience_score=p.salience,
        category=p.category,
        client_id=client_id,
        valid_from=valid_from,
        metadata={"source": fact_source(source)},
    )


class FactDecider:
    """Writes fact proposals through the Memory Gateway and records each decision."""

    def __init__(self, uow: UnitOfWork, *, memory: MemoryPort, llm: LLMClient | None) -> None:
        self.uow = uow
        self.memory = memory
        self.llm = llm
        self.repo = ObserverRepository(uow.session)
        self.events = EventRepository(uow.session)

    async def decisions(
        self, event_id: int | None, limit: int = 200, offset: int = 0
    ) -> list[FactDecisionOut]:
        """Recorded decisions, for one event or all, oldest first."""
        rows = await self.repo.decisions(event_id, limit=limit, offset=offset)
        return [decision_out(d) for d in rows]

    async def decide_all(
        self,
        proposals: Sequence[Any],
        source: Source,
        event_id: int | None,
        client_id: int | None = None,
    ) -> list[FactDecisionOut]:
        """`decide` each proposal, their slots locked first (see `lock_slots`)."""
        await self.lock_slots(proposals, client_id)
        return [await self.decide(p, source, event_id, client_id) for p in proposals]

    async def lock_slots(self, proposals: Sequence[Any], client_id: int | None = None) -> None:
        """Lock the slots of the valid proposals, in one order, before writing any: each
        write locks its slot, and in proposal order two jobs sharing slots could deadlock.
        The slot is also whose the fact will be (`client_id`), as `decide` writes it."""
        facts = []
        for raw in proposals:
            try:
                facts.append(_fact_in(FactProposal.model_validate(raw), "llm", client_id))
            except ValidationError:
                continue  # `decide` rejects it; it is written nowhere
        if len(facts) > 1:
            await self.memory.lock_fact_slots(facts)

    async def decide(
        self,
        raw: Any,
        source: Source,
        event_id: int | None,
        client_id: int | None = None,
        valid_from: datetime | None = None,
    ) -> FactDecisionOut:
        """Validate one proposal, check it against the subject's facts, write, record."""
        proposal = raw if isinstance(raw, dict) else {"value": raw}
        try:
            p = FactProposal.model_validate(raw)
        except ValidationError as exc:
            return await self._record(event_id, source, proposal, "rejected", None, _reason(exc))
        try:
            fact = _fact_in(p, source, client_id, valid_from)
        except ValidationError as exc:
            # A proposal the fact's own schema refuses is recorded, not raised: the
            # other proposals are still decided.
            return await self._record(event_id, source, proposal, "rejected", None, _reason(exc))
        # A duplicate of what this client (or the user) already holds; another client's
        # fact is not this client's, and naming it here would show it in this one's record.
        # For a client, what it may see (`for_client`): a fact stated without a client about
        # another client (`client:8`) is that client's, not the user's own.
        current = await self.memory.facts(
            FactsQuery(
                subject_type=p.subject_type,
                subject_id=p.subject_id,
                limit=1000,
                for_client=client_id,
            )
        )
        mine = [f for f in current if f.client_id is None or f.client_id == client_id]
        same = next((f for f in mine if _same(f.content, p.content)), None)
        if same is not None:
            return await self._record(
                event_id, source, proposal, "duplicate", same.id, f"same as fact {same.id}"
            )
        try:
            # A savepoint: a failed write must not poison the rest of the transaction.
            async with self.uow.session.begin_nested():
                written = await self.memory.write_fact(fact, event_id)
        except AlmanacError as exc:
            # A 5xx (the Gateway or its database down, a timeout) is not the proposal's
            # fault: it propagates so the job is retried and the fact is not lost.
            if exc.status_code >= 500:
                raise
            return await self._record(event_id, source, proposal, "rejected", None, exc.message)
        if written.duplicate:
            decision, reason = "duplicate", f"same as fact {written.fact.id}"
        elif written.superseded_id is not None:
            decision, reason = "superseded", f"supersedes fact {written.superseded_id}"
        else:
            decision, reason = "added", None
        return await self._record(event_id, source, proposal, decision, written.fact.id, reason)

    async def _record(
        self,
        event_id: int | None,
        source: Source,
        proposal: dict[str, Any],
        decision: str,
        fact_id: int | None,
        reason: str | None,
    ) -> FactDecisionOut:
        row = await self.repo.add_decision(
            {
                "event_id": event_id,
                "source": source,
                "proposal": storable(json.loads(json.dumps(proposal, default=str))),
                "decision": decision,
                "fact_id": fact_id,
                "reason": reason,
            }
        )
        return decision_out(row)
