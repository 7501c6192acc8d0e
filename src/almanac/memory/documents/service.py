"""Adding, reading and removing documents; recall finds their chunks (`memory.search`)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import PurePath
from typing import Any

from almanac.cache import Cache
from almanac.config import Settings
from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.errors import NotFound, PayloadTooLarge, ValidationFailed
from almanac.memory.documents.chunking import Chunk, chunk_sections
from almanac.memory.documents.extract import PDF_SECONDS, Extracted, extract, media_type_of
from almanac.memory.documents.repository import DocumentRepository
from almanac.memory.documents.schemas import (
    ChunkOut,
    DocumentAddOut,
    DocumentDetailOut,
    DocumentListOut,
    DocumentOut,
)
from almanac.memory.external.repository import DataLocks
from almanac.memory.invalidation import Invalidator
from almanac.models import Document
from almanac.offload import Worker

# The longest `source` (a document's identity per client) the table holds.
SOURCE_CHARS = 500
# PDF and HTML are read in a process of their own: their parsers are pure Python and costly
# on a hostile file. Markdown and plain text are read in linear time, in a thread.
_READER = Worker("the document reader", field="file")
_IN_WORKER = {"application/pdf", "text/html"}
# Beyond the reader's own deadlines (PDF 20 s, HTML 10 s) before its process is killed.
_GRACE_SECONDS = 10.0


@dataclass
class Upload:
    """A file as received, with what the caller said about it."""

    data: bytes
    filename: str
    declared_type: str | None = None
    # The document's identity per client (default: the file name); re-adding the same
    # source with the same bytes updates the tags, title and metadata given (a no-op when
    # they say nothing new), with other bytes it replaces the chunks. Either way, what is
    # not given (tags, title, metadata) stays as it was, except a title taken from the old
    # file: new bytes take their own.
    source: str | None = None
    title: str | None = None
    client_id: int | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def embedding_text(title: str, chunk: Chunk) -> str:
    """What is embedded for a chunk: its place in the document gives a passage its topic."""
    where = f"{title} — {chunk.heading}" if chunk.heading else title
    return f"{where}\n{chunk.content}"


class DocumentService:
    def __init__(
        self, uow: UnitOfWork, embedder: Embedder, cache: Cache, settings: Settings
    ) -> None:
        self.uow = uow
        self.embedder = embedder
        self.settings = settings.memory
        self.repo = DocumentRepository(uow.session)
        self.invalidator = Invalidator(cache)

    async def add(self, upload: Upload) -> DocumentAddOut:
        """Store a file and its chunks; idempotent per (client, source) and content."""
        given = upload
        if len(upload.data) > self.settings.document_max_bytes:
            detail = f"the file is larger than {self.settings.document_max_bytes} bytes"
            raise PayloadTooLarge(detail, errors=[{"field": "file", "message": detail}])
        if not upload.data:
            raise ValidationFailed("the file is empty", field="file")
        media_type = media_type_of(upload.filename, upload.declared_type)
        source = upload.source or PurePath(upload.filename).name
        if upload.source is None and (len(source) > SOURCE_CHARS or "\x00" in source):
            # The name is the document's identity (`source`), a column of 500 characters:
            # a longer one was a 500 from the insert, after the file was parsed and embedded.
            raise ValidationFailed(
                f"the file name must be at most {SOURCE_CHARS} characters without NUL; "
                "give a shorter `source`",
                field="file",
            )
        digest = hashlib.sha256(upload.data).hexdigest()
        await self.repo.lock_source(upload.client_id, source)
        existing = await self.repo.by_source(upload.client_id, source)
        title_given = bool(upload.title) or (existing is not None and existing.title_given)
        if existing is not None:
            # What the caller now says of it (tags, title, metadata given) replaces what was
            # said; what it leaves out stays, whether the bytes changed or not; but a title
            # taken from the old file gives way to the new file's.
            kept = title_given or existing.content_hash == digest
            upload = replace(
                upload,
                tags=upload.tags or list(existing.tags),
                metadata=upload.metadata or existing.metadata_,
                title=upload.title or (existing.title if kept else None),
            )
        retitled = False
        if existing is not None and existing.content_hash == digest:
            said: dict[str, object] = {
                "tags": sorted(set(upload.tags)),
                "metadata_": upload.metadata,
                "title": (upload.title or existing.title)[:500],
                "title_given": title_given,
            }
            changed = {k: v for k, v in said.items() if getattr(existing, k) != v}
            if "title" not in changed:
                # Set after the wait: set before, the wait's query flushed them, and the
                # row lock it took was what a forget under way waited for.
                if changed and not await self._wait_for_forgets(existing):
                    return await self.add(given)
                for attr, now in changed.items():
                    setattr(existing, attr, now)
                if changed:
                    await self.repo.save(existing)
                    self.invalidator.documents_changed(self.uow, existing.client_id)
                counts = await self.repo.chunk_counts([existing.id])
                status = "updated" if changed else "unchanged"
                return row_out(
                    DocumentAddOut, existing, chunks=counts.get(existing.id, 0), status=status
                )
            # The title is in every chunk's embedded text and citation: rebuilt below.
            retitled = True
        extracted = await self._extract(upload.data, media_type)
        chunks = chunk_sections(extracted.sections, self.settings.chunk_chars)
        if not chunks:
            raise ValidationFailed("no text could be extracted from the file", field="file")
        if len(chunks) > self.settings.document_max_chunks:
            raise ValidationFailed(
                f"the file makes {len(chunks)} chunks; at most {self.settings.document_max_chunks}",
                field="file",
            )
        title = upload.title or extracted.title or PurePath(upload.filename).stem
        vectors = [
            v.tolist()
            for v in await self.embedder.embed([embedding_text(title, c) for c in chunks])
        ]
        values = {
            "title": title[:500],
            "title_given": title_given,
            "media_type": media_type,
            "content_hash": digest,
            "tags": sorted(set(upload.tags)),
            "pages": extracted.pages,
            "size_bytes": len(upload.data),
            "metadata_": upload.metadata,
        }
        if not await self._wait_for_forgets(existing):
            return await self.add(given)
        if existing is None:
            doc = await self.repo.add(Document(source=source, client_id=upload.client_id, **values))
        else:
            for name, value in values.items():
                setattr(existing, name, value)
            doc = await self.repo.save(existing)
        await self.repo.replace_chunks(doc, chunks, vectors, self.embedder.model)
        self.invalidator.documents_changed(self.uow, doc.client_id)
        status = "created" if existing is None else "updated" if retitled else "replaced"
        return row_out(DocumentAddOut, doc, chunks=len(chunks), status=status)

    async def _extract(self, data: bytes, media_type: str) -> Extracted:
        """The file's text, off the event loop and bounded in pages and time."""
        read = partial(extract, max_pages=self.settings.document_max_pages)
        if media_type not in _IN_WORKER:
            return await asyncio.to_thread(read, data, media_type)
        return await _READER.run(read, data, media_type, budget=PDF_SECONDS, grace=_GRACE_SECONDS)

    async def _wait_for_forgets(self, existing: Document | None) -> bool:
        """Wait for a forget under way; False when it deleted `existing`, read before.

        A forget deletes this client's documents and their chunks' words in the search
        statistics; writing them meanwhile, in the other order, deadlocked. Taken after
        parsing and embedding, so a forget never waits on an embedder; but one that ran
        meanwhile may have deleted the document read before (its update was a 500), and
        its tags, title and metadata, kept by this upload, must not come back: the caller
        starts again from what was given (this once with the lock held)."""
        await DataLocks(self.uow.session).lock_memory_writes(shared=True)
        return existing is None or await self.repo.by_id(Document, existing.id) is not None

    async def get(self, document_id: int) -> DocumentDetailOut:
        doc = await self.repo.by_id(Document, document_id)
        if doc is None:
            raise NotFound(f"document {document_id} does not exist")
        chunks = await self.repo.chunks(document_id)
        return row_out(
            DocumentDetailOut,
            doc,
            chunks=len(chunks),
            chunk_list=[
                ChunkOut(index=c.chunk_index, heading=c.heading, page=c.page, content=c.content)
                for c in chunks
            ],
        )

    async def find(
        self, client_id: int | None, tag: str | None, limit: int, offset: int
    ) -> DocumentListOut:
        docs = await self.repo.find(client_id, tag, limit, offset)
        counts = await self.repo.chunk_counts([d.id for d in docs])
        return DocumentListOut(
            items=[row_out(DocumentOut, d, chunks=counts.get(d.id, 0)) for d in docs],
            limit=limit,
            offset=offset,
        )

    async def delete(self, document_id: int) -> None:
        await self.repo.lock_chunk_writes()  # its chunks go, with their words' counts
        words = await self.repo.words_of(document_id)
        doc = await self.repo.delete_by_id(Document, document_id)
        if doc is None:
            raise NotFound(f"document {document_id} does not exist")
        await self.repo.prune_words(words)
        self.invalidator.documents_changed(self.uow, doc.client_id)

    async def forget_client(self, client_id: int) -> int:
        """Remove every document of a client (chunks and vectors cascade)."""
        deleted = await self.repo.delete_for_client(client_id)
        if deleted:
            self.invalidator.documents_changed(self.uow, client_id)
        return deleted
