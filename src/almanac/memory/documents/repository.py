"""All SQL on `documents`, `doc_chunks` and `doc_chunk_embeddings`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from almanac.db.limits import wait_for_lock
from almanac.db.portable import PortableRows
from almanac.db.repository import Repository
from almanac.memory.documents.chunking import Chunk
from almanac.models import DocChunk, DocChunkEmbedding, Document


class DocumentRepository(Repository, PortableRows):
    """Documents and their chunks; get, add, save and delete by id come from the base."""

    # Exported with their chunks (a chunk's metadata is its citation); the vectors are not,
    # `reindex` embeds the chunks again after an import.
    portable = (Document, DocChunk)

    async def same_documents(self, documents: list[dict[str, Any]]) -> set[int]:
        """Of these exported documents, the ids at which this database holds the very same
        one (client, source and content hash): the only documents an import may add
        chunks to, so a clash of ids never mixes two files' passages."""
        if not documents:
            return set()
        wanted = {
            int(d["id"]): (d.get("client_id"), d.get("source"), d.get("content_hash"))
            for d in documents
        }
        rows = await self.session.execute(
            select(Document.id, Document.client_id, Document.source, Document.content_hash).where(
                Document.id.in_(list(wanted))
            )
        )
        return {i for i, *key in rows.all() if wanted[i] == tuple(key)}

    async def lock_source(self, client_id: int | None, source: str) -> None:
        """Serialise writers of one (client, source) until the transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('document'), hashtext(:key))"),
            {"key": f"{client_id or 0}:{source}"},
        )

    async def by_source(self, client_id: int | None, source: str) -> Document | None:
        stmt = select(Document).where(
            func.coalesce(Document.client_id, 0) == (client_id or 0), Document.source == source
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def find(
        self, client_id: int | None, tag: str | None, limit: int, offset: int
    ) -> list[Document]:
        stmt = select(Document).order_by(Document.id.desc()).limit(limit).offset(offset)
        if client_id is not None:
            stmt = stmt.where(Document.client_id == client_id)
        if tag is not None:
            # "Contract" and "contract" are one tag to the person who typed them.
            said = func.unnest(Document.tags).column_valued("doc_tag")
            stmt = stmt.where(select(1).where(func.lower(said) == tag.lower()).exists())
        return list((await self.session.execute(stmt)).scalars())

    async def chunk_counts(self, ids: Sequence[int]) -> dict[int, int]:
        if not ids:
            return {}
        stmt = (
            select(DocChunk.document_id, func.count())
            .where(DocChunk.document_id.in_(ids))
            .group_by(DocChunk.document_id)
        )
        return {doc_id: n for doc_id, n in (await self.session.execute(stmt)).all()}

    async def chunks(self, document_id: int) -> list[DocChunk]:
        stmt = (
            select(DocChunk)
            .where(DocChunk.document_id == document_id)
            .order_by(DocChunk.chunk_index)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def lock_chunk_writes(self) -> None:
        """Writers of document chunks, one at a time until the transaction ends.

        Each chunk's words and the kind's one statistics row are kept by triggers: a
        replace's delete locks words, then that row, which its insert holds while it locks
        words again; two replaces (or a replace and a deletion) sharing words each held
        what the other waited for, and Postgres failed one (a 503). Taken after parsing
        and embedding, so a writer waits only for another's statements."""
        await wait_for_lock(
            self.session,
            "SELECT pg_advisory_xact_lock(hashtext('doc-chunks'), 0)",
            {},
            "the documents' chunks",
        )

    async def words_of(self, document_id: int) -> list[str]:
        """The words of a document's chunks (to prune from the statistics once they go)."""
        rows = await self.session.execute(
            text(
                "SELECT DISTINCT w FROM doc_chunks, unnest(tsvector_to_array(search_tsv)) w "
                "WHERE document_id = :id"
            ),
            {"id": document_id},
        )
        return list(rows.scalars())

    async def prune_words(self, words: Sequence[str]) -> None:
        """Drop these words from the statistics where no chunk holds them any more (a
        delete leaves them at df 0, naming what was deleted), as a memory's deletion does."""
        if words:
            await self.session.execute(
                text(
                    "DELETE FROM search_terms WHERE kind = 'document' AND df <= 0 "
                    "AND lexeme = ANY(:words)"
                ),
                {"words": list(words)},
            )

    async def replace_chunks(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        vectors: Sequence[list[float]],
        model: str,
    ) -> None:
        """Drop the document's chunks and write these with their vectors (two statements),
        holding `lock_chunk_writes`."""
        await self.lock_chunk_writes()
        words = await self.words_of(doc.id)
        await self.session.execute(delete(DocChunk).where(DocChunk.document_id == doc.id))
        await self.prune_words(words)
        if not chunks:
            return
        rows = [
            {
                "document_id": doc.id,
                "chunk_index": c.index,
                "client_id": doc.client_id,
                "heading": c.heading,
                "page": c.page,
                "content": c.content,
                "metadata_": {
                    "document_id": doc.id,
                    "title": doc.title,
                    "source": doc.source,
                    "heading": c.heading,
                    "page": c.page,
                    "chunk_index": c.index,
                },
            }
            for c in chunks
        ]
        ids = (await self.session.execute(insert(DocChunk).returning(DocChunk.id), rows)).scalars()
        await self.session.execute(
            insert(DocChunkEmbedding),
            [
                {"chunk_id": cid, "model": model, "embedding": vec}
                for cid, vec in zip(ids.all(), vectors, strict=True)
            ],
        )

    async def missing_embeddings(
        self, model: str, limit: int, after_id: int
    ) -> list[tuple[DocChunk, str]]:
        """Chunks not embedded with `model`, in id order, with their document's title."""
        stmt = (
            select(DocChunk, Document.title)
            .join(Document, Document.id == DocChunk.document_id)
            .outerjoin(DocChunkEmbedding, DocChunkEmbedding.chunk_id == DocChunk.id)
            .where(
                DocChunk.id > after_id,
                or_(DocChunkEmbedding.chunk_id.is_(None), DocChunkEmbedding.model != model),
            )
            .order_by(DocChunk.id)
            .limit(limit)
        )
        return [(chunk, str(title)) for chunk, title in (await self.session.execute(stmt)).all()]

    async def upsert_embeddings(self, model: str, items: Sequence[tuple[int, Any]]) -> None:
        """Store (or replace) the vectors of chunks under `model`."""
        if not items:
            return
        stmt = pg_insert(DocChunkEmbedding)
        stmt = stmt.on_conflict_do_update(
            index_elements=["chunk_id"],
            set_={"model": stmt.excluded.model, "embedding": stmt.excluded.embedding},
        )
        rows = [{"chunk_id": cid, "model": model, "embedding": vec} for cid, vec in items]
        await self.session.execute(stmt, rows)

    async def delete_for_client(self, client_id: int) -> int:
        return await self.delete_where(Document, Document.client_id == client_id)
