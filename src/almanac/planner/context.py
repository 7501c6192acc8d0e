"""What a plan is made with and what it leaves behind in memory.

Before planning: preferences and constraints, facts about the client and the matched
workflows, related memories, and similar past plans, recalled through the memory port.
After: the plan itself is remembered (event type `plan`) through the same port, in the
plan's own transaction when the Gateway is in-process, so later plans recall it. A remote
Gateway that cannot take it loses nothing: remembering is queued as a job in the plan's
transaction and retried until the Gateway answers (`planner.tasks`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.errors import AlmanacError
from almanac.jobs.queue import enqueue
from almanac.memory.port import MemoryPort, RemoteMemory
from almanac.memory.schemas import FactOut, FactsQuery, RecallQuery, RememberIn
from almanac.models import Plan
from almanac.ontology.sop import SOP
from almanac.planner.repository import PlanRepository
from almanac.planner.schemas import PlanIn, RecalledItem

logger = logging.getLogger(__name__)

PLAN_EVENT = "plan"
# Recallable, but under the bar for fact extraction: a draft plan is not a durable fact.
PLAN_SALIENCE = 0.5
# The job that remembers a plan the (remote) Gateway could not take when it was made.
REMEMBER_TASK = "almanac:remember_plan"
REMEMBER_QUEUE = "memory"
# A plan's note while its memory waits in the queue, and the one that replaces it after.
UNREMEMBERED_NOTE = "the plan was saved but not yet remembered"
REMEMBERED_LATER_NOTE = (
    "the plan was remembered later, once the Memory Gateway took it: later plans recall it"
)


async def recall_context(
    memory: MemoryPort,
    body: PlanIn,
    workflow_ids: Sequence[int],
    k: int,
    degraded: list[str],
    notes: list[str],
) -> list[RecalledItem]:
    """The memories and facts a plan for `body` should see; [] (with "memory" in
    `degraded` and why in `notes`) when the Gateway cannot serve: planning goes on
    without them."""
    if k == 0:
        return []
    # Every query is scoped: this client's memories and facts plus the user's own, never
    # another client's (0 = no client: the user's own only).
    scope = body.client_id or 0
    queries = [
        FactsQuery(fact_type="preference", limit=k, for_client=scope),
        FactsQuery(fact_type="constraint", limit=k, for_client=scope),
    ]
    if body.client_id is not None:
        queries.append(
            FactsQuery(
                subject_type="client", subject_id=str(body.client_id), limit=k, for_client=scope
            )
        )
    queries += [
        FactsQuery(subject_type="workflow", subject_id=str(w), limit=k, for_client=scope)
        for w in workflow_ids
    ]
    query = body.intent[:2000]
    past = RecallQuery(query=query, k=3, event_type=PLAN_EVENT, kinds=["event"], for_client=scope)
    try:
        related, past_plans, fact_lists = await asyncio.gather(
            memory.recall(RecallQuery(query=query, k=k, for_client=scope)),
            memory.recall(past),
            asyncio.gather(*(memory.facts(q) for q in queries)),
        )
    except AlmanacError as exc:
        logger.warning("recall for planning failed: %s", exc.message)
        degraded.append("memory")
        notes.append(
            f"memory unavailable ({exc.message}): planned without recalled memories, "
            "preferences or past plans"
        )
        return []
    items: dict[tuple[str, int], RecalledItem] = {}
    for fact in (f for facts in fact_lists for f in facts):
        items[("fact", fact.id)] = _fact_item(fact)
    for hit in [*past_plans.results, *related.results]:
        kind = PLAN_EVENT if hit.metadata.get("plan_id") is not None else hit.kind
        items.setdefault(
            (hit.kind, hit.id),
            RecalledItem(kind=kind, id=hit.id, content=hit.content, score=round(hit.score, 4)),
        )
    return list(items.values())[: 3 * k]


def _fact_item(fact: FactOut) -> RecalledItem:
    return RecalledItem(kind=f"fact:{fact.fact_type}", id=fact.id, content=fact.content)


def plan_memory(plan: Plan, sop: SOP, title: str | None = None) -> RememberIn:
    """What is remembered of `plan` drafted as `sop` (under `title`, default its own)."""
    steps = "; ".join(step.title for step in sop.steps)
    return RememberIn(
        content=f"Plan: {title or plan.plan_title} ({sop.total_hours():g} h). "
        f"Intent: {plan.intent}. Steps: {steps}"[:20_000],
        event_type=PLAN_EVENT,
        event_source="planner",
        client_id=plan.client_id,
        memory_scope="user",
        salience_score=PLAN_SALIENCE,
        metadata={"plan_id": plan.id, "workflow_id": plan.workflow_id},
        idempotency_key=f"plan:{plan.id}",
    )


async def remember_plan(
    memory: MemoryPort, session: AsyncSession, plan: Plan, sop: SOP
) -> int | None:
    """Remember the draft so later plans recall it as a similar past plan: in-process at
    once, in the plan's transaction (None). A remote Gateway is sent it by a job queued with
    the plan (its id), once the plan is committed: sent from inside the transaction, the
    Gateway's write of the client's graph node waited on the one the plan's insert had just
    made (uncommitted), until the Gateway's deadline."""
    if isinstance(memory, RemoteMemory):
        return await queue_remember_plan(session, plan.id)
    await memory.remember(plan_memory(plan, sop))
    return None


async def queue_remember_plan(session: AsyncSession, plan_id: int) -> int:
    """Queue remembering plan `plan_id` later (the Gateway could not take it now), in the
    plan's own transaction; the job id. Only the id goes in the job: nothing of the plan's
    content sits in the queue."""
    return await enqueue(session, REMEMBER_TASK, args={"plan_id": plan_id}, queue=REMEMBER_QUEUE)


async def remember_queued_plan(uow: UnitOfWork, memory: MemoryPort, plan_id: int) -> bool:
    """The queued job's work with the Gateway in-process (on `uow`): remember the plan as it
    was drafted, under the same key (`plan:{id}`), so an earlier attempt the Gateway did
    take is not stored twice. False when the plan is gone (its client forgotten): nothing
    is brought back. The plan stays locked against deletion until `uow` commits (no network
    call is made meanwhile), so a forget that starts meanwhile waits, then deletes the
    memory written here with the client's others."""
    found = await PlanRepository(uow.session).as_drafted(plan_id)
    if found is None:
        return False
    plan, title, sop = found
    await memory.remember(plan_memory(plan, SOP.model_validate(sop), title))
    await PlanRepository(uow.session).replace_note(
        plan_id, UNREMEMBERED_NOTE, REMEMBERED_LATER_NOTE
    )
    return True


async def remember_queued_plan_remotely(
    sessionmaker: async_sessionmaker[AsyncSession], memory: RemoteMemory, plan_id: int
) -> bool:
    """The queued job's work with a remote Gateway, as `remember_queued_plan`, but with no
    lock held while the Gateway is asked: a slow Gateway (up to its timeout) would hold up
    every edit and approval of the plan (they lock it `FOR UPDATE`). So: read the plan as
    drafted, remember it, then look again under a share lock (a forget under way is waited
    out); a plan gone by then had its client forgotten meanwhile, perhaps before the
    Gateway committed this memory, so the memory is forgotten here. A Gateway that fails
    raises (`AlmanacError`): the job is retried with backoff."""
    async with unit_of_work(sessionmaker) as uow:
        found = await PlanRepository(uow.session).as_drafted(plan_id)
    if found is None:
        return False
    plan, title, sop = found
    event_id = await memory.remember(plan_memory(plan, SOP.model_validate(sop), title))
    async with unit_of_work(sessionmaker) as uow:
        plans = PlanRepository(uow.session)
        still = await plans.as_drafted(plan_id) is not None
        if still:
            await plans.replace_note(plan_id, UNREMEMBERED_NOTE, REMEMBERED_LATER_NOTE)
    if not still:
        try:
            await memory.forget_event(event_id)
        except AlmanacError:
            # A retry finds the plan gone and cannot tell which memory was written: say it.
            logger.error("plan %s gone: its memory %s could not be forgotten", plan_id, event_id)
            raise
    return still
