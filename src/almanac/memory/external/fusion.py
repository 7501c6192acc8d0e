"""How remember and recall use the external provider: queue sends, ask within a budget, fuse."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import ZepSettings
from almanac.embedder import Embedder
from almanac.jobs.queue import enqueue_many
from almanac.memory.external.base import ExternalHit, ExternalMemory
from almanac.memory.external.factory import zep_user_id
from almanac.memory.relevance import relevance
from almanac.memory.schemas import Kind, RecallHit, RecallQuery, RememberIn
from almanac.memory.search import SearchRepository

if TYPE_CHECKING:  # numpy loads with the model, on first use
    from almanac.embedder import Vectors


async def queue_sends(
    session: AsyncSession,
    settings: ZepSettings,
    items: Sequence[RememberIn],
    new_by_pos: dict[int, int | None],
) -> None:
    """Queue salient new memories for Zep in the caller's transaction: remember never waits."""
    wanted = [
        {"event_id": event_id}
        for pos, event_id in new_by_pos.items()
        if event_id is not None and items[pos].salience_score >= settings.salience_threshold
    ]
    if wanted:
        await enqueue_many(session, "almanac:zep_send", wanted, queue="zep")


@dataclass
class ExternalAnswer:
    """The provider's results, and their vectors and the query's by the local embedder."""

    hits: list[ExternalHit]
    query_vector: Vectors | None = None
    vectors: Vectors | None = None


def recall_user(q: RecallQuery, settings: ZepSettings) -> str:
    """The Zep user a recall asks. A recall for a client (a plan's) asks that client's user
    alone: the owner's user holds what was said of every client without a client id, and
    Zep's answers carry no subject by which to leave the other clients' out, as Postgres'
    answer does."""
    client = q.client_id if q.client_id is not None else q.for_client
    return zep_user_id(client, settings.default_user_id)


# Why recall does not ask a Zep user while a deletion of forgotten data there is queued
# (Zep was away when it was forgotten): until it has run, Zep holds that data and what it
# learnt from it.
HELD_BACK = (
    "zep skipped: a deletion of forgotten data in Zep user {user!r} is still queued; Zep is "
    "asked again once it has run"
)


async def ask_external(
    external: ExternalMemory, settings: ZepSettings, q: RecallQuery, embedder: Embedder
) -> tuple[ExternalAnswer | None, str | None]:
    """The provider's results, embedded for their relevance, within the budget; or None
    and why not."""
    budget_ms = settings.recall_budget_ms
    user = recall_user(q, settings)

    async def asked() -> ExternalAnswer:
        found = await external.search(user, q.query, q.k)
        if not found:
            return ExternalAnswer(found)
        # Within the budget: the embedder may be remote (`openai_compat`), slow or failing,
        # and the local answer is ready; it runs beside local recall, not after it.
        qvec = await embedder.embed_query(q.query)
        return ExternalAnswer(found, qvec, await embedder.embed([h.content for h in found]))

    try:
        answer = await asyncio.wait_for(asked(), budget_ms / 1000)
    except TimeoutError:
        why = f"zep skipped: no answer within {budget_ms} ms (ALMANAC_ZEP__RECALL_BUDGET_MS)"
    except Exception as exc:  # any provider failure degrades recall, never fails it
        why = f"zep skipped: {str(exc)[:300]}"
    else:
        external.last_skip = None
        return answer, None
    external.last_skip = (time.monotonic(), why, user)
    return None, why


async def external_relevance(
    search: SearchRepository, query: str, answer: ExternalAnswer
) -> list[float]:
    """Each provider result's relevance on recall's own scale (memory.relevance): the local
    embedder's cosine of its text to the query, and the share of the query's words (IDF
    weighted as among the memories, a word none holds at the highest weight) its text
    holds; no runner-up (the provider's list is not ours). The provider's search answers
    its nearest whatever the query: without this, a question about something never
    mentioned got its results past the floor, with no relevance to compare."""
    if not answer.hits or answer.vectors is None or answer.query_vector is None:
        return []
    qvec = answer.query_vector
    asked, *held = await search.lexemes([query, *(h.content for h in answer.hits)])
    terms, _ = await search.terms("event", query)
    idf = {t.lexeme: t.idf for t in terms}
    top = max(idf.values(), default=1.0)
    weight = {w: idf.get(w, top) for w in asked}
    total = sum(weight.values())
    out = []
    for vector, words in zip(answer.vectors, held, strict=True):
        coverage = sum(v for w, v in weight.items() if w in words) / total if total else 0.0
        out.append(relevance(float(vector @ qvec), coverage, None, search.settings))
    return out


def external_id(ref: str) -> int:
    """A stable negative id for a result that exists only in the provider."""
    return -(zlib.crc32(ref.encode("utf-8")) + 1)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def fuse(
    local: list[RecallHit],
    external: list[ExternalHit],
    kinds: set[str],
    k: int,
    rrf_k: int,
    relevances: Sequence[float | None] | None = None,
) -> list[RecallHit]:
    """Both lists ranked best first; the top `k` by summed 1/(rrf_k + rank).

    A provider result saying exactly what a local one says (Zep stores the messages
    Almanac sent it) adds its rank to the local result instead of appearing twice.
    Provider facts no longer valid are dropped: recall answers with what is true now.
    """
    now = datetime.now(UTC)
    # Keyed by kind and id: events, facts and document chunks number their ids apart, so
    # event 7 and chunk 7 are two results.
    scores: dict[tuple[str, int], float] = {}
    by_id: dict[tuple[str, int], RecallHit] = {}
    by_text: dict[str, tuple[str, int]] = {}
    for rank, hit in enumerate(local, start=1):
        key = (hit.kind, hit.id)
        scores[key] = 1.0 / (rrf_k + rank)
        by_id[key] = hit
        by_text.setdefault(_norm(hit.content), key)
    rank = 0
    scale = list(relevances) if relevances is not None else [None] * len(external)
    for ext, ext_relevance in zip(external, scale, strict=True):
        kind: Kind = "fact" if ext.kind == "fact" else "event"
        if kind not in kinds or (ext.invalid_at is not None and ext.invalid_at <= now):
            continue
        rank += 1
        contribution = 1.0 / (rrf_k + rank)
        same = by_text.get(_norm(ext.content))
        if same is not None:
            scores[same] += contribution
            continue
        hit_id = external_id(ext.ref)
        key = (kind, hit_id)
        if key in by_id:
            continue
        meta = dict(ext.metadata)
        if ext.valid_at is not None:
            meta["valid_at"] = ext.valid_at.isoformat()
        if ext.score is not None:
            meta["zep_score"] = ext.score
        by_id[key] = RecallHit(
            id=hit_id,
            kind=kind,
            content=ext.content,
            score=0.0,
            source="zep",
            occurred_at=ext.valid_at,
            session_id=None,
            metadata=meta,
            ref=ext.ref,
            relevance=ext_relevance,
        )
        scores[key] = contribution
    ranked = sorted(by_id, key=lambda i: scores[i], reverse=True)[:k]
    return [by_id[i].model_copy(update={"score": round(scores[i], 6)}) for i in ranked]
