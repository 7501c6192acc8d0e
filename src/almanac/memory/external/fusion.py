"""How remember and recall use the external provider: queue sends, ask within a budget, fuse."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import ZepSettings
from almanac.jobs.queue import enqueue_many
from almanac.memory.external.base import ExternalHit, ExternalMemory
from almanac.memory.external.factory import zep_user_id
from almanac.memory.schemas import Kind, RecallHit, RecallQuery, RememberIn


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


async def ask_external(
    external: ExternalMemory, settings: ZepSettings, q: RecallQuery
) -> tuple[list[ExternalHit] | None, str | None]:
    """The provider's results within the budget, or None and why not."""
    budget_ms = settings.recall_budget_ms
    # A recall for a client (a plan's) asks that client's user alone: the owner's user
    # holds what was said of every client without a client id, and Zep's answers carry no
    # subject by which to leave the other clients' out, as Postgres' answer does.
    client = q.client_id if q.client_id is not None else q.for_client
    user = zep_user_id(client, settings.default_user_id)
    try:
        found = await asyncio.wait_for(external.search(user, q.query, q.k), budget_ms / 1000)
    except TimeoutError:
        return None, f"zep skipped: no answer within {budget_ms} ms"
    except Exception as exc:  # any provider failure degrades recall, never fails it
        return None, f"zep skipped: {str(exc)[:300]}"
    return found, None


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
    for ext in external:
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
        )
        scores[key] = contribution
    ranked = sorted(by_id, key=lambda i: scores[i], reverse=True)[:k]
    return [by_id[i].model_copy(update={"score": round(scores[i], 6)}) for i in ranked]
