"""Facts from experience: high-salience events and the numbers become durable facts.

Every proposal gets a `fact_decisions` row: added, duplicate (the subject already has a
current fact saying the same), superseded (same subject, type and category: the memory's
FactService closes the old fact) or rejected (invalid, with the reason). Extraction is
idempotent per event: once an event has llm/metadata decisions it is not extracted again,
and an advisory lock keeps two workers from writing the same event's facts at once. The LLM
is asked with no transaction open (so no lock and no connection are held while it thinks);
the lock is taken afterwards and what was read is checked again before anything is written.
A Gateway 5xx fails the job (retried); a 4xx is recorded as a rejection. A job writing
several facts locks all their slots first, in one order, so two such jobs cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from almanac.errors import Conflict, DependencyUnavailable, NotFound
from almanac.llm.base import (
    LLMError,
    LLMUse,
    Prompt,
    why_unusable,
)
from almanac.memory.external.base import ExternalHit
from almanac.memory.forget_repository import ForgetRepository
from almanac.models import Event
from almanac.models.memory import owner_client
from almanac.observer.fact_decisions import FactDecider, decision_out
from almanac.observer.proposals import (
    extraction_messages,
    judge_facts,
    metadata_proposal,
)
from almanac.observer.schemas import (
    ExtractionOut,
    FactDecisionOut,
    PatternOut,
    RawFacts,
    Source,
)
from almanac.planner.repository import PromptRepository

SALIENCE_THRESHOLD = 0.7  # the design's bar for an event to become a durable fact
TEMPLATE = "fact_extractor"
OPERATION = "extraction"
PATTERN_MIN_RUNS = 3  # a duration "pattern" needs a few runs behind it
READ_ATTEMPTS = 3  # an event changed while the LLM read it is read again, this many times


class ExtractionDeferred(DependencyUnavailable):
    """The LLM could not extract facts now (down, too slow, or answered nonsense): nothing
    was recorded, so the job is retried later instead of marking the memory as done."""

    title = "Fact extraction deferred"


def owner_of(event: Event) -> int | None:
    """Whose an event is, as recall and the facts listing read it: its client's; without
    one, the client its metadata names as its subject (`client`/`7`); else the user's own.
    Its facts are written as that client's: as the user's own, every other client's plans
    would read what was said about this one."""
    meta = event.metadata_ or {}
    return owner_client(event.client_id, meta.get("subject_type"), meta.get("subject_id"))


def _as_read(event: Event) -> tuple[Any, ...]:
    """What an extraction depends on, to see whether the event changed meanwhile."""
    return (event.content, event.metadata_, event.salience_score, event.event_type)


class FactExtractor(FactDecider):
    """Turns events and numbers into facts through the Memory Gateway's FactService."""

    async def extract(self, event_id: int, *, defer: bool = False) -> ExtractionOut:
        """Extract facts from one event now (idempotent: a second run changes nothing).

        With `defer` (the background job), an LLM that is down, too slow or answers nonsense
        raises `ExtractionDeferred` and records nothing, so a retry can do better; without
        it (a person asking), the event's metadata stands in for the LLM.
        """
        for _ in range(READ_ATTEMPTS):
            event = await self.events.get(event_id, for_update=True)
            if event is None:
                raise NotFound(f"event {event_id} does not exist")
            done = await self._settled(event)
            if done is not None:
                return done
            seen = _as_read(event)
            proposals, source, use = await self._propose(event, defer=defer)
            await self.repo.lock_event(event_id)
            event = await self.events.get(event_id, for_update=True)
            if event is None:
                raise NotFound(f"event {event_id} was deleted while its facts were read")
            done = await self._settled(event)
            if done is not None:
                return done  # another worker extracted it meanwhile: its decisions stand
            if _as_read(event) != seen:
                await self.uow.end_reads()  # it changed under the LLM: read it again
                continue
            decisions = await self.decide_all(proposals, source, event.id, owner_of(event))
            return ExtractionOut(event_id=event_id, decisions=decisions, llm=use)
        raise Conflict(f"event {event_id} kept changing while its facts were read; retry")

    async def _settled(self, event: Event) -> ExtractionOut | None:
        """The answer when there is nothing to extract (done before, or not salient)."""
        prior = await self.repo.decisions(event.id, sources=("llm", "metadata"))
        if prior:
            return ExtractionOut(
                event_id=event.id,
                decisions=[decision_out(d) for d in prior],
                already_extracted=True,
                llm=LLMUse(used=False, detail="extracted before: the earlier decisions stand"),
            )
        if event.salience_score < SALIENCE_THRESHOLD:
            return ExtractionOut(
                event_id=event.id,
                decisions=[],
                llm=LLMUse(
                    used=False,
                    detail=f"salience {event.salience_score:g} is under {SALIENCE_THRESHOLD:g}: "
                    "nothing to extract",
                ),
            )
        return None

    async def _propose(
        self, event: Event, *, defer: bool = False
    ) -> tuple[list[Any], Source, LLMUse]:
        fallback = metadata_proposal(event)
        deterministic = [fallback] if fallback else []
        llm = self.llm
        if llm is None:
            return (
                deterministic,
                "metadata",
                LLMUse(
                    used=False, detail="no LLM is configured: facts come from the event's metadata"
                ),
            )
        template = await PromptRepository(self.uow.session).active(TEMPLATE)
        if template is None:
            return (
                deterministic,
                "metadata",
                LLMUse(used=False, detail=f"no active {TEMPLATE!r} prompt template"),
            )
        messages = extraction_messages(
            template.content,
            content=event.content,
            metadata=event.metadata_ or {},
            header=f"type {event.event_type}, salience {event.salience_score:g}, "
            f"occurred {event.occurred_at.isoformat()}",
        )
        prompt = Prompt(messages, TEMPLATE, template.version)
        source_text = {"content": event.content, "metadata": event.metadata_ or {}}
        await self.uow.end_reads()  # no transaction, lock or connection while the LLM thinks

        def judge(answer: RawFacts) -> list[str]:
            return judge_facts(answer, source_text)

        try:
            result = await llm.complete_json(
                operation=OPERATION,
                prompt=prompt,
                schema=RawFacts,
                judge=judge,
            )
        except LLMError as exc:
            why = why_unusable(exc, "facts")
            if defer:
                raise ExtractionDeferred(f"waiting for the LLM: {why}") from exc
            return (
                deterministic,
                "metadata",
                LLMUse(
                    used=False,
                    model=llm.model_for(OPERATION),
                    detail=f"{why}; facts come from the event's metadata",
                ),
            )
        use = LLMUse.of(
            prompt,
            used=True,
            model=result.record.model,
            detail=f"{len(result.value.facts)} proposal(s) from {result.record.model}",
        )
        return list(result.value.facts), "llm", use

    async def import_external(
        self, hits: Sequence[ExternalHit], client_id: int | None, user: str | None = None
    ) -> list[FactDecisionOut]:
        """Facts Zep extracted become Almanac facts through `decide`, each Zep fact once.

        A fact Zep has invalidated is recorded as rejected (it is no longer true); one
        valid since `valid_at` starts then, superseding the subject's fact of the same
        relation (category) under the usual rules. A client with nothing in Zep from
        Almanac any more (forgotten since the import was queued) gets nothing back, and
        no Zep user (`user`) does while a deletion of its data in Zep is still to run: a
        forgotten person's memories are gone from Almanac but Zep's facts about them are
        not yet (the next import, after the deletion, brings the rest).
        """
        held = ForgetRepository(self.uow.session)
        if client_id is None:
            await held.lock_owner()
        else:
            await held.lock_client(client_id)
            if not await held.in_zep(client_id):
                return []  # forgotten since: what Zep still holds of it is being deleted
        if user is not None and await held.zep_deletion_pending(user):
            return []
        seen = await self.repo.zep_refs_seen([h.ref for h in hits])
        todo = []
        for hit in hits:
            if hit.ref in seen:
                continue
            seen.add(hit.ref)
            relation = str(hit.metadata.get("name") or "").lower()[:50] or None
            proposal = {
                "subject_type": "zep_entity",
                "subject_id": str(hit.metadata.get("subject") or "unknown")[:255],
                "fact_type": "identity",
                "category": relation,
                "content": hit.content,
                "zep_uuid": hit.ref,
                "valid_at": hit.valid_at.isoformat() if hit.valid_at else None,
                "invalid_at": hit.invalid_at.isoformat() if hit.invalid_at else None,
            }
            todo.append((proposal, hit))
        await self.lock_slots(
            [proposal for proposal, hit in todo if hit.invalid_at is None], client_id
        )
        out = []
        for proposal, hit in todo:
            if hit.invalid_at is not None:
                reason = f"invalid in Zep since {hit.invalid_at.isoformat()}"
                out.append(await self._record(None, "zep", proposal, "rejected", None, reason))
                continue
            out.append(await self.decide(proposal, "zep", None, client_id, hit.valid_at))
        return out

    async def pattern_facts(
        self, found: Sequence[PatternOut], event_id: int | None
    ) -> list[FactDecisionOut]:
        """Duration facts from the numbers; each supersedes the last as runs accumulate.

        The duration is the planner's own estimate for the workflow's typical client (the
        pattern's suggestion), not the mean of all runs: that mean was a second figure
        for one estimate, mostly the busiest client's pace, recalled into every client's
        plan (planner/context.py) beside the plan's own calibrated figure.
        """
        proposals = []
        for p in found:
            hours = p.suggested_estimate_hours
            if p.runs < PATTERN_MIN_RUNS or hours is None:
                continue
            library = p.current_estimate_hours
            proposals.append(
                {
                    "subject_type": "workflow",
                    "subject_id": str(p.workflow_id),
                    "fact_type": "pattern",
                    "category": "duration",
                    "content": f"workflow {p.workflow} takes about {hours:g} h for a typical "
                    f"client, as the planner estimates it from {p.runs} runs"
                    + (f" (the library says {library:g} h)" if library else ""),
                    "salience": 0.8,
                }
            )
        return await self.decide_all(proposals, "numbers", event_id)
