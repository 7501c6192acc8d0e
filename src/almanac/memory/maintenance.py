"""Bulk jobs over the memory tables: export and re-embedding (memories, facts, documents)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from almanac.db.uow import unit_of_work
from almanac.db.vector_indexes import ensure_vector_indexes
from almanac.memory.documents.chunking import Chunk
from almanac.memory.documents.repository import DocumentRepository
from almanac.memory.documents.service import embedding_text
from almanac.memory.invalidation import ALL, DOCUMENTS, FACTS
from almanac.memory.repository import EventRepository, FactRepository
from almanac.models import Event, Fact
from almanac.state import AppState

_PAGE = 1000


def event_record(e: Event) -> dict[str, Any]:
    """An event as a `remember` body plus its id: the export (and archive) line format."""
    return {
        "id": e.id,
        "content": e.content,
        "event_type": e.event_type,
        "event_source": e.event_source,
        "client_id": e.client_id,
        "session_id": e.session_id,
        "memory_scope": e.memory_scope,
        "salience_score": e.salience_score,
        "occurred_at": e.occurred_at.isoformat(),
        "expires_at": e.expires_at.isoformat() if e.expires_at else None,
        "metadata": e.metadata_,
        "idempotency_key": e.idempotency_key,
    }


async def export_events(state: AppState, write: Callable[[dict[str, Any]], None]) -> int:
    """Stream every event, in id order, as a `remember` body plus its id."""
    count, after = 0, 0
    async with state.sessionmaker() as session:
        repo = EventRepository(session)
        while rows := await repo.iter_all(_PAGE, after):
            for e in rows:
                write(event_record(e))
                count += 1
            after = rows[-1].id
    return count


async def reindex(
    state: AppState, batch: int, progress: Callable[[int], None]
) -> tuple[int, int, int]:
    """Embed every event, fact and document chunk not yet embedded with the current model."""
    embedder = state.embedder
    totals = []
    for repo_cls in (EventRepository, FactRepository):
        done, after = 0, 0
        while True:
            # One unit of work per batch: a long re-embedding keeps what it has done.
            async with unit_of_work(state.sessionmaker) as uow:
                repo = repo_cls(uow.session)
                rows: Sequence[Event | Fact] = await repo.missing_embeddings(
                    embedder.model, batch, after
                )
                if not rows:
                    break
                vectors = await embedder.embed([r.content for r in rows])
                await repo.insert_embeddings(
                    embedder.model, [(r.id, v.tolist()) for r, v in zip(rows, vectors, strict=True)]
                )
            after = rows[-1].id
            done += len(rows)
            progress(len(rows))
        totals.append(done)
    totals.append(await _reindex_chunks(state, batch, progress))
    async with unit_of_work(state.sessionmaker) as uow:
        await ensure_vector_indexes(uow.session, embedder.model, embedder.dim)
    await state.cache.bump([ALL, FACTS, DOCUMENTS])
    return totals[0], totals[1], totals[2]


async def _reindex_chunks(state: AppState, batch: int, progress: Callable[[int], None]) -> int:
    """Document chunks, embedded as when they were added (title and heading first)."""
    embedder, done, after = state.embedder, 0, 0
    while True:
        async with unit_of_work(state.sessionmaker) as uow:
            repo = DocumentRepository(uow.session)
            rows = await repo.missing_embeddings(embedder.model, batch, after)
            if not rows:
                return done
            texts = [
                embedding_text(title, Chunk(c.chunk_index, c.heading, c.page, c.content))
                for c, title in rows
            ]
            vectors = await embedder.embed(texts)
            await repo.upsert_embeddings(
                embedder.model,
                [(c.id, v.tolist()) for (c, _), v in zip(rows, vectors, strict=True)],
            )
        after = rows[-1][0].id
        done += len(rows)
        progress(len(rows))
