"""The vectors and search words of events and facts: what their two repositories share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from almanac.db.repository import Repository
from almanac.models import Event, EventEmbedding, Fact, FactEmbedding

Row = TypeVar("Row", Event, Fact)


class VectorRows(Repository, Generic[Row]):
    """The rows' vectors: one per row and embedding model, in a narrow table of their own."""

    rows: type[Row]
    vectors: type[EventEmbedding] | type[FactEmbedding]
    key: str  # the vector table's column holding the row's id
    term_kind: str  # the rows' `kind` in search_terms (migration 0002)

    async def prune_search_terms(self, of: Row | None = None) -> int:
        """Drop words no memory or fact holds any more (deletes leave them at df 0): all,
        or only the words of `of`, a deleted row (through the index, not the whole table)."""
        if of is None:
            result = await self.session.execute(text("DELETE FROM search_terms WHERE df <= 0"))
        else:
            result = await self.session.execute(
                text(
                    "DELETE FROM search_terms WHERE kind = :kind AND df <= 0 "
                    "AND lexeme = ANY(tsvector_to_array(CAST(:tsv AS tsvector)))"
                ),
                {"kind": self.term_kind, "tsv": str(of.search_tsv or "")},
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def count_embeddings(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        stmt = select(func.count()).where(getattr(self.vectors, self.key).in_(ids))
        return int(await self.session.scalar(stmt) or 0)

    async def insert_embeddings(self, model: str, items: Sequence[tuple[int, Any]]) -> None:
        """Store (or replace) the rows' vectors under `model`."""
        if not items:
            return
        stmt = insert(cast(Table, self.vectors.__table__))
        stmt = stmt.on_conflict_do_update(
            index_elements=[self.key],
            set_={"model": stmt.excluded.model, "embedding": stmt.excluded.embedding},
        )
        rows = [{self.key: row_id, "model": model, "embedding": vector} for row_id, vector in items]
        await self.session.execute(stmt, rows)

    async def missing_embeddings(self, model: str, limit: int, after_id: int) -> list[Row]:
        """Rows with no vector under `model` (none at all, or one from another model), in id
        order (for reindexing)."""
        key, row_id = getattr(self.vectors, self.key), getattr(self.rows, "id")  # noqa: B009
        stmt = (
            select(self.rows)
            .outerjoin(self.vectors, key == row_id)
            .where(or_(key.is_(None), self.vectors.model != model), row_id > after_id)
            .order_by(row_id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())
