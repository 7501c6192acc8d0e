"""Declarative base with a naming convention so Alembic names constraints predictably."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, DateTime, ForeignKey, MetaData, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base for every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        datetime: DateTime(timezone=True),
    }


class IdMixin:
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


class UpdatedMixin:
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), nullable=False
    )


class TimestampsMixin(CreatedMixin, UpdatedMixin):
    """`created_at` and `updated_at`, both set by Postgres."""


def jsonb_default() -> Any:
    """Server default of an empty JSON object."""
    return text("'{}'::jsonb")


class MetadataMixin:
    """Free-form JSON `metadata` (attribute `metadata_`: declarative models reserve the name)."""

    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", nullable=False, server_default=jsonb_default()
    )


# Embeddings live in their own narrow tables: a 384-dimension vector is 1.5 kB, and kept
# inline it made every full-text candidate drag its vector through the buffer cache.
# The vector column is dimension-free so the model can change; each model gets its own
# partial HNSW index (see memory.search).


class VectorMixin:
    """The vector of one row under one embedding model."""

    model: Mapped[str] = mapped_column(String(200), nullable=False)
    embedding: Mapped[Any] = mapped_column(Vector(), nullable=False)


def embedded_row(table: str) -> Mapped[int]:
    """A vector table's key: the id of the row it embeds (deleted with that row)."""
    return mapped_column(
        BigInteger, ForeignKey(f"{table}.id", ondelete="CASCADE"), primary_key=True
    )
