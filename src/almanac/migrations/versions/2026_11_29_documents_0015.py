"""Documents and their chunks (the RAG pipeline), indexed for recall like memories.

Revision ID: 0015
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TSV = (
    "to_tsvector('english'::regconfig, coalesce(metadata ->> 'title', '') || ' ' "
    "|| coalesce(heading, '') || ' ' || content)"
)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column(
            "tags", postgresql.ARRAY(sa.String(50)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index(
        "uq_documents_client_source",
        "documents",
        [sa.text("coalesce(client_id, 0)"), "source"],
        unique=True,
    )
    op.create_index("ix_documents_tags", "documents", ["tags"], postgresql_using="gin")
    op.create_table(
        "doc_chunks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("heading", sa.Text(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("search_tsv", postgresql.TSVECTOR(), sa.Computed(_TSV, persisted=True)),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_doc_chunks_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doc_chunks")),
    )
    op.create_index(
        "uq_doc_chunks_document_index", "doc_chunks", ["document_id", "chunk_index"], unique=True
    )
    op.create_index("ix_doc_chunks_client_id", "doc_chunks", ["client_id"])
    op.create_index(
        "ix_doc_chunks_search_tsv", "doc_chunks", ["search_tsv"], postgresql_using="gin"
    )
    op.create_table(
        "doc_chunk_embeddings",
        sa.Column("chunk_id", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["doc_chunks.id"],
            name=op.f("fk_doc_chunk_embeddings_chunk_id_doc_chunks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chunk_id", name=op.f("pk_doc_chunk_embeddings")),
    )
    # BM25 statistics for chunks, kept by the same statement-level triggers as memories
    # (migration 0002), under their own kind.
    for when, ref, fn, suffix in (
        ("INSERT", "NEW TABLE AS new_rows", "search_terms_on_insert", "ins"),
        ("DELETE", "OLD TABLE AS old_rows", "search_terms_on_delete", "del"),
        ("UPDATE", "OLD TABLE AS old_rows", "search_terms_on_delete", "upd_old"),
        ("UPDATE", "NEW TABLE AS new_rows", "search_terms_on_insert", "upd_new"),
    ):
        op.execute(
            f"CREATE TRIGGER doc_chunks_search_terms_{suffix} AFTER {when} ON doc_chunks "
            f"REFERENCING {ref} FOR EACH STATEMENT EXECUTE FUNCTION {fn}('document')"
        )


def downgrade() -> None:
    op.drop_table("doc_chunk_embeddings")
    op.drop_table("doc_chunks")
    op.drop_table("documents")
    op.execute("DELETE FROM search_terms WHERE kind = 'document'")
    op.execute("DELETE FROM search_stats WHERE kind = 'document'")
