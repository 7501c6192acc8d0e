"""Forgetting a subject: every copy Almanac holds of it, in every store, counted per store.

A client (`client/<id>`) also owns what carries its `client_id`: memories tagged only that
way, facts, plans with their versions, tasks and process templates, the calendar blocks
placed for those plans, and the plan memories. The work runs in the request's transaction;
the archive rewrite and cache bumps follow its commit, so a failed request forgets nothing.

Memory sits below the domains that copy its content (planner, calendars, observer), so they
register a forgetter here (almanac.background wires them) instead of being imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.config import Settings, ZepSettings
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError
from almanac.jobs import repository as jobs_repository
from almanac.memory.documents.repository import DocumentRepository
from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.external import forget as external_forget
from almanac.memory.external.base import ExternalMemory
from almanac.memory.external.sync import IMPORT_TASK
from almanac.memory.forget_repository import ForgetRepository
from almanac.memory.invalidation import Invalidator, event_namespaces
from almanac.memory.repository import EventRepository, FactRepository
from almanac.memory.retention import forget_in_archives
from almanac.memory.schemas import ForgetOut
from almanac.models.memory import client_of


@dataclass(frozen=True)
class RemoteForget:
    """Copies outside Postgres (blocks in an external calendar) a forgetter found.

    The forgetter queues their deletion as an idempotent, retried job in the request's
    transaction, so neither a crash nor an outage loses it; `attempt` is tried once right
    after the commit, and the answer reports its count or says the job will retry.
    """

    store: str
    job_id: int
    attempt: Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class Subject:
    """What is being forgotten, found before anything is deleted."""

    type: str
    id: str
    client_id: int | None
    event_ids: list[int]
    fact_ids: list[int]
    # What the subject's memories said (quoted elsewhere, e.g. in reflections).
    event_texts: list[str]
    settings: Settings | None = None
    cache: Cache | None = None
    # Filled by forgetters whose copies live outside Postgres.
    remote: list[RemoteForget] = field(default_factory=list)
    # Facts derived from the subject's data among others' (a workflow's pattern, counting
    # a client's runs): forgetters name them, the forget deletes them with the subject's.
    derived_fact_ids: list[int] = field(default_factory=list)


Forgetter = Callable[[AsyncSession, Subject], Awaitable[dict[str, int]]]
_forgetters: list[Forgetter] = []


def register_forgetter(forgetter: Forgetter) -> None:
    """Have `forgetter` delete its domain's copies of every forgotten subject."""
    if forgetter not in _forgetters:
        _forgetters.append(forgetter)


def _about(subject_type: str, subject_id: str, client_id: int | None) -> Any:
    def check(line: dict[str, Any]) -> bool:
        meta = line.get("metadata") or {}
        tagged = meta.get("subject_type") == subject_type and str(meta.get("subject_id")) == str(
            subject_id
        )
        return tagged or (client_id is not None and line.get("client_id") == client_id)

    return check


async def _cancel_queued(
    session: AsyncSession, event_ids: list[int], fact_ids: list[int], client_id: int | None
) -> int:
    """Queued writes of what is being forgotten: sends to Zep, fact extractions and a
    client's import of Zep's facts. Each re-checks when it runs; none is left to try."""
    n = await jobs_repository.delete_queued_naming(session, "event_id", event_ids)
    n += await jobs_repository.delete_queued_naming(session, "fact_id", fact_ids)
    if client_id is not None:
        n += await jobs_repository.delete_queued_naming(
            session, "client_id", [client_id], task=IMPORT_TASK
        )
    return n


async def forget_subject(
    uow: UnitOfWork,
    invalidator: Invalidator,
    archives: Path,
    subject_type: str,
    subject_id: str,
    external: ExternalMemory | None = None,
    zep: ZepSettings | None = None,
    settings: Settings | None = None,
) -> ForgetOut:
    """Delete everything about a subject; the answer counts what went from each store.

    With an external memory (Zep), what Almanac wrote there is deleted too: queued in
    this transaction, tried at once after the commit (see memory.external.forget)."""
    session = uow.session
    client_id = client_of(subject_type, subject_id)
    events, facts = EventRepository(session), FactRepository(session)
    rows = ForgetRepository(session)
    counts: dict[str, int] = {}
    # An import of what Zep extracted (the owner's or a client's), under way, commits first
    # (and is read below) or waits for this commit and then finds nothing to import for,
    # or the deletion in Zep this queues still to do. Owner lock first, then clients'.
    await rows.lock_owner_then(client_id)
    await rows.lock_memory_writes(shared=False)

    # Decisions and queued jobs point at events and facts by id: find them before the
    # deletes set those links to NULL; the other domains' forgetters run first.
    event_ids = await events.ids_for_subject(subject_type, subject_id, client_id)
    fact_ids = await facts.ids_for_subject(subject_type, subject_id, client_id)
    for other in await rows.clients_sent(event_ids, fact_ids):
        if other != client_id:  # ascending, after the owner lock every forget holds
            await rows.lock_client(other)
    fact_episodes = await facts.zep_ids(fact_ids) if external is not None else []
    subject_nodes = await facts.subject_nodes(fact_ids)
    counts["event_embeddings"] = await events.count_embeddings(event_ids)
    counts["fact_embeddings"] = await facts.count_embeddings(fact_ids)
    texts = await events.contents(event_ids)
    subject = Subject(
        subject_type, subject_id, client_id, event_ids, fact_ids, texts, settings, invalidator.cache
    )
    counts["queued_jobs"] = await _cancel_queued(session, event_ids, fact_ids, client_id)
    for forgetter in _forgetters:
        counts.update(await forgetter(session, subject))
    derived = sorted(set(subject.derived_fact_ids) - set(fact_ids))
    if external is not None:
        fact_episodes += await facts.zep_ids(derived)
    counts["fact_embeddings"] += await facts.count_embeddings(derived)
    counts["queued_jobs"] += await jobs_repository.delete_queued_naming(session, "fact_id", derived)
    deleted = await events.delete_for_subject(subject_type, subject_id, client_id)
    counts["events"] = len(deleted)
    counts["facts"] = len(await facts.delete_for_subject(subject_type, subject_id, client_id))
    counts["derived_facts"] = await rows.delete_facts(derived)
    counts["documents"] = (
        await DocumentRepository(session).delete_for_client(client_id)
        if client_id is not None
        else 0
    )
    outside = None
    if external is not None and zep is not None:
        sent = [(e.id, e.zep_session_id) for e in deleted if e.zep_session_id is not None]
        outside = external_forget.plan(client_id, zep.default_user_id, sent, fact_episodes)
        if outside:
            await external_forget.queue(session, outside, zep.recall_budget_ms / 1000)
    # The BM25 triggers decrement document frequencies; words left at zero still name
    # what was forgotten.
    counts["search_terms"] = await events.prune_search_terms()
    # Likewise entity nodes (a name is what was forgotten) that no memory links to now.
    links = EntityLinkRepository(session)
    counts["entity_nodes"] = await links.prune()
    # Engagement nodes first: which are the client's is read from its node's edges.
    counts["engagement_nodes"] = (
        await links.drop_engagements(client_id) if client_id is not None else 0
    )
    counts["client_nodes"] = await links.drop_client(client_id) if client_id is not None else 0
    # The nodes the forgotten facts hung off (a person's name), now bare.
    counts["subject_nodes"] = await links.drop_subjects(subject_nodes)

    namespaces = sorted({ns for e in deleted for ns in event_namespaces(e.session_id, e.client_id)})
    invalidator.everything_changed(uow, namespaces)
    # Copies of events an earlier version kept in the cache for a day.
    hot = [f"event:{e.id}" for e in deleted]
    about = _about(subject_type, subject_id, client_id)
    out = ForgetOut(
        subject_type=subject_type,
        subject_id=subject_id,
        events_deleted=counts["events"],
        facts_deleted=counts["facts"],
        documents_deleted=counts["documents"],
        cache_invalidated=True,
        deleted=counts,
        zep="queued" if outside else "off",
    )

    async def after_commit() -> None:
        if outside and external is not None and zep is not None:
            why = await external_forget.try_now(external, outside, zep.recall_budget_ms / 1000)
            out.zep, out.zep_detail = ("deleted", None) if why is None else ("queued", why)
        if hot:
            await invalidator.cache.delete(*hot)
        # Archive lines go only once the rows are gone for good.
        lines = await asyncio.to_thread(forget_in_archives, archives, about)
        out.deleted["retention_archive_lines"] = lines
        for remote in subject.remote:
            try:
                out.deleted[remote.store] = await remote.attempt()
            except AlmanacError as exc:  # the calendar is down or changed under us
                out.pending[remote.store] = (
                    f"{exc.message}; deleted from Postgres, the calendar deletion is queued "
                    f"as job {remote.job_id} and retried until the calendar answers"
                )

    uow.after_commit(after_commit)
    return out
