"""The shape every repository shares: get, require, add, save, remove, page, lock.

In the manner of polar's `kit/repository/base.py`, but one repository may own several
tables of its domain, so the row-level methods take the model. Each table still has one
owning repository; the others reach it through that repository or its domain's service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, Table, delete, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from almanac.errors import Conflict, NotFound
from almanac.types import OFFSET_MAX

Row = TypeVar("Row")
Out = TypeVar("Out", bound=BaseModel)

# "share" keeps a row from being deleted under us (FOR KEY SHARE); "edit" locks it for an
# update that leaves its key alone, so rows that merely refer to it can still be inserted
# (FOR NO KEY UPDATE); "update" is the full row lock (FOR UPDATE), e.g. before a delete.
Lock = Literal["share", "edit", "update"]
PAGE_MAX = 1000


def locked(stmt: Select[Any], lock: Lock | None) -> Select[Any]:
    """`stmt` with the row lock `lock` (none when None)."""
    if lock is None:
        return stmt
    # A locked read must see the row as it is now, also when the session loaded it before
    # (a read phase ended by `UnitOfWork.end_reads` keeps its rows).
    stmt = stmt.execution_options(populate_existing=True)
    if lock == "share":
        return stmt.with_for_update(read=True, key_share=True)
    if lock == "edit":
        return stmt.with_for_update(key_share=True)
    return stmt.with_for_update()


def equal_to(model: Any, **filters: Any) -> list[ColumnElement[bool]]:
    """`model.name == value` for each filter given; a None value is no filter."""
    return [getattr(model, name) == value for name, value in filters.items() if value is not None]


def row_out(schema: type[Out], row: object, **values: Any) -> Out:
    """`schema` filled from the row's attributes of the same names; `values` add or override.

    A schema's `metadata` comes from the row's `metadata_` (declarative models reserve
    `metadata`).
    """
    data = {
        name: getattr(row, _ATTRIBUTES.get(name, name))
        for name in schema.model_fields
        if name not in values and hasattr(row, _ATTRIBUTES.get(name, name))
    }
    return schema.model_validate({**data, **values})


def new_row(model: type[Row], source: object, **values: Any) -> Row:
    """A new `model` row filled from `source`'s attributes named like its columns (`metadata_`
    from `metadata`); `values` add or override. The id is never copied: Postgres assigns it."""
    data = {
        column: getattr(source, _SOURCES.get(column, column))
        for column in (attr.key for attr in sa_inspect(model).column_attrs)
        if column != "id" and column not in values and hasattr(source, _SOURCES.get(column, column))
    }
    return cast(Any, model)(**data, **values)  # type: ignore[no-any-return]


def assign(
    row: object, body: BaseModel, *, nullable: Sequence[str] = (), given: Sequence[str] = ()
) -> None:
    """Copy a partial update onto `row`: each of `nullable` when the caller sent it (null
    clears it), each of `given` when sent and not null. `metadata` goes to `metadata_`."""
    sent = body.model_fields_set
    for name in nullable:
        if name in sent:
            setattr(row, _ATTRIBUTES.get(name, name), getattr(body, name))
    for name in given:
        if (value := getattr(body, name)) is not None:
            setattr(row, _ATTRIBUTES.get(name, name), value)


_ATTRIBUTES = {"metadata": "metadata_"}
_SOURCES = {row: schema for schema, row in _ATTRIBUTES.items()}


class Repository:
    """A session and the row-level operations every repository needs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, model: type[Row], row_id: int, *, lock: Lock | None = None) -> Row | None:
        """The row with this id, or None; `lock` locks it for this transaction."""
        key: InstrumentedAttribute[Any] = getattr(model, "id")  # noqa: B009 (any model)
        stmt = locked(select(model).where(key == row_id), lock)
        return (await self.session.scalars(stmt)).one_or_none()

    async def require(
        self, model: type[Row], row_id: int, what: str, *, lock: Lock | None = None
    ) -> Row:
        """The row with this id; 404 "`what` `row_id` not found" without one."""
        row = await self.by_id(model, row_id, lock=lock)
        if row is None:
            raise NotFound(f"{what} {row_id} not found")
        return row

    async def add(self, row: Row) -> Row:
        """Insert and read back server-side values (ids, timestamps, generated columns)."""
        self.session.add(row)
        await self._flush()
        await self.session.refresh(row)
        return row

    async def add_all(self, rows: Sequence[Row]) -> list[Row]:
        """Insert several rows; their ids are set on return."""
        self.session.add_all(rows)
        await self._flush()
        return list(rows)

    async def save(self, row: Row) -> Row:
        """Flush changes to `row` and read it back (updated_at, computed columns)."""
        await self._flush()
        await self.session.refresh(row)
        return row

    async def remove(self, row: object) -> None:
        await self.session.delete(row)
        await self._flush()

    async def _flush(self) -> None:
        """Flush; a foreign key or unique violation is a 409 (a concurrent change won)."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            # Services check before writing; this is a concurrent change that beat them.
            raise Conflict(
                "a row this change refers to was changed or deleted concurrently; retry"
            ) from exc

    async def page(
        self, stmt: Select[Any], order_by: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[Any], int]:
        """One page of `stmt` in `order_by` order, and the total it matches.

        `limit` is held to 1..PAGE_MAX and `offset` to 0..OFFSET_MAX whatever the caller
        passes, so no caller can ask Postgres for an unbounded scan.
        """
        limit = max(1, min(limit, PAGE_MAX))
        offset = max(0, min(offset, OFFSET_MAX))
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = await self.session.scalars(stmt.order_by(*order_by).limit(limit).offset(offset))
        return list(rows), int(total or 0)

    async def first(self, stmt: Select[Any], *order_by: Any) -> Any | None:
        """The first row of `stmt` in `order_by` order, or None."""
        return (await self.session.scalars(stmt.order_by(*order_by).limit(1))).first()

    @staticmethod
    def lock_of(for_update: bool) -> Lock | None:
        """The lock a `for_update=True` caller means: the full row lock."""
        return "update" if for_update else None

    async def delete_by_id(self, model: type[Row], row_id: int) -> Row | None:
        """Delete one row; the deleted row, or None when there was none."""
        key: InstrumentedAttribute[Any] = getattr(model, "id")  # noqa: B009 (any model)
        stmt = delete(model).where(key == row_id).returning(model)
        return (await self.session.scalars(stmt)).one_or_none()

    async def delete_where(self, model: type[Any], *where: ColumnElement[bool]) -> int:
        """Delete the rows matching `where`; how many."""
        key: InstrumentedAttribute[Any] = getattr(model, "id")  # noqa: B009 (any model)
        return len((await self.session.execute(delete(model).where(*where).returning(key))).all())

    async def insert_new(self, model: type[Row], values: dict[str, Any], unique: str) -> Row | None:
        """Insert one row unless one with the same `unique` column value exists (then None).

        ON CONFLICT DO NOTHING: a concurrent insert of the same key does not fail, the loser
        reads the winner's row. The new row is read back fresh (server defaults, computed
        columns).
        """
        table = cast(Table, getattr(model, "__table__"))  # noqa: B009 (any model)
        stmt = (
            insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[table.c[unique]])
            .returning(table.c.id)
        )
        new_id = (await self.session.execute(stmt)).scalar_one_or_none()
        if new_id is None:
            return None
        return await self.session.get_one(model, new_id, populate_existing=True)

    async def lock(self, key: str) -> None:
        """A transaction-scoped advisory lock on `key`."""
        await self.session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
