"""Documents the user gives Almanac (proposals, contracts, notes) and their indexed chunks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import (
    Base,
    IdMixin,
    MetadataMixin,
    TimestampsMixin,
    VectorMixin,
    embedded_row,
)

# The document's title and the heading are searched with the text: "Acme pricing" finds
# the chunk under Acme's proposal's "Pricing" heading.
_CHUNK_TSV = (
    "to_tsvector('english'::regconfig, coalesce(metadata ->> 'title', '') || ' ' "
    "|| coalesce(heading, '') || ' ' || content)"
)


class Document(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """One file; `source` (per client) is its identity, `content_hash` tells changes apart."""

    __tablename__ = "documents"

    source: Mapped[str] = mapped_column(String(500), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    # Given by the caller (kept when a changed file is re-added without one), or taken from
    # the file (its new heading then replaces it).
    title_given: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    client_id: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(50)), nullable=False, server_default=text("'{}'")
    )
    pages: Mapped[int] = mapped_column(Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (
        Index("uq_documents_client_source", text("coalesce(client_id, 0)"), "source", unique=True),
        Index("ix_documents_tags", "tags", postgresql_using="gin"),
    )


class DocChunk(IdMixin, MetadataMixin, Base):
    """A passage of a document: the unit recall finds and cites. Its metadata is the
    citation recall returns: document id, title, heading, page."""

    __tablename__ = "doc_chunks"

    document_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("documents.id", ondelete="CASCADE"), nullable=False
    )
    chunk_index: Mapped[int] = mapped_column(Integer, nullable=False)
    # Denormalised from the document so recall filters chunks in one index scan.
    client_id: Mapped[int | None] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"), nullable=False)
    search_tsv: Mapped[Any] = mapped_column(TSVECTOR, Computed(_CHUNK_TSV, persisted=True))

    __table_args__ = (
        Index("uq_doc_chunks_document_index", "document_id", "chunk_index", unique=True),
        Index("ix_doc_chunks_client_id", "client_id"),
        Index("ix_doc_chunks_search_tsv", "search_tsv", postgresql_using="gin"),
    )


class DocChunkEmbedding(VectorMixin, Base):
    """The vector of a chunk under one embedding model."""

    __tablename__ = "doc_chunk_embeddings"

    chunk_id: Mapped[int] = embedded_row("doc_chunks")
