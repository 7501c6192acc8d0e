"""Rows as plain JSON and back, ids kept: what a repository needs to export and import.

A repository that owns tables lists them in `portable` and inherits `export_rows` and
`import_rows`; the export format (`almanac.backup.export`) calls only these. Generated
columns (full-text vectors) are left out and rebuilt by Postgres; inserting keeps ids and
skips rows that are already there, so importing the same rows twice changes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Date, DateTime, Table, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models.base import Base


def _columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if c.computed is None]


def encode(table: Table, row: Any) -> dict[str, Any]:
    """One ORM row as JSON-ready values, keyed by column name."""
    out: dict[str, Any] = {}
    for column in _columns(table):
        value = getattr(row, column.key, None) if not isinstance(row, dict) else row[column.name]
        if isinstance(value, datetime | date):
            value = value.isoformat()
        out[column.name] = value
    return out


def decode(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `encode`; unknown keys are an error (the file is for another schema)."""
    columns = {c.name: c for c in _columns(table)}
    unknown = set(data) - set(columns)
    if unknown:
        raise ValueError(f"{table.name}: unknown columns {sorted(unknown)}")
    out: dict[str, Any] = {}
    for name, value in data.items():
        kind = columns[name].type
        if value is not None and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, Date):
            value = date.fromisoformat(value)
        out[name] = value
    return out


_STAMPS = frozenset({"created_at", "updated_at"})


def _made(row: dict[str, Any]) -> Any:
    value = row.get("created_at")
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _differs(here: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether a column the file gives (timestamps aside) holds another value here."""
    return any(here.get(k) != v for k, v in theirs.items() if k not in _STAMPS)


def _normalised(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    """A file's row in `encode`'s form (its times through `decode`: one offset notation)."""
    return {
        k: v.isoformat() if isinstance(v, datetime | date) else v
        for k, v in decode(table, data).items()
    }


class PortableRows:
    """Mixin for a repository: export and import the tables it owns."""

    portable: ClassVar[tuple[type[Base], ...]] = ()
    # Tables whose rows the migrations create: imported rows replace them by id.
    seeded: ClassVar[frozenset[str]] = frozenset()
    session: AsyncSession

    def _table(self, name: str) -> Table:
        for model in self.portable:
            table = model.__table__
            if isinstance(table, Table) and table.name == name:
                return table
        raise KeyError(f"{type(self).__name__} does not own table {name!r}")

    def owned_tables(self) -> list[str]:
        return [str(m.__tablename__) for m in self.portable]

    async def export_rows(self, table_name: str, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows with id > `after_id`, in id order."""
        table = self._table(table_name)
        result = await self.session.execute(
            select(*_columns(table)).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
        )
        return [encode(table, dict(r._mapping)) for r in result]

    async def import_rows(self, table_name: str, rows: list[dict[str, Any]]) -> int:
        """Insert rows with their ids; rows already there (any unique key) are skipped.

        Returns how many were inserted.
        """
        if not rows:
            return 0
        table = self._table(table_name)
        values = [decode(table, r) for r in rows]
        statement = insert(table).values(values)
        if table.name in self.seeded:
            # Rows the migrations seed: the file's copy (its timestamps, its flags) wins.
            columns = [c.name for c in _columns(table) if c.name != "id"]
            upsert = statement.on_conflict_do_update(
                index_elements=[table.c.id], set_={c: statement.excluded[c] for c in columns}
            )
            # xmax = 0 only on a row this statement inserted (not one it updated).
            try:
                result = await self.session.execute(upsert.returning(text("xmax = 0")))
            except IntegrityError as exc:
                raise ValueError(_missing_reference(table.name, exc)) from exc
            inserted = sum(1 for (new,) in result if new)
        else:
            try:
                result = await self.session.execute(
                    statement.on_conflict_do_nothing().returning(table.c.id)
                )
            except IntegrityError as exc:
                raise ValueError(_missing_reference(table.name, exc)) from exc
            inserted = len(result.all())
        # New rows made later must not collide with the imported ids.
        await self.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                f"(SELECT greatest(coalesce(max(id), 0), 1) FROM {table.name}))"
            ),
            {"t": table.name},
        )
        return inserted

    async def held_by_others(self, table_name: str, rows: list[dict[str, Any]]) -> list[int]:
        """Ids of `rows` that another row holds here: made at another time and different
        in content (timestamps aside). The same row again, one changed here since it was
        imported (its creation time kept), or the same content made elsewhere (a starter
        workflow in both installations) is not another row."""
        table = self._table(table_name)
        if table.name in self.seeded:
            rows = [r for r in rows if not self.is_seed(r)]
        if not rows:
            return []
        given = {r["id"]: r for r in rows}
        clashes: list[int] = []
        ids = sorted(given)
        for start in range(0, len(ids), 1000):
            result = await self.session.execute(
                select(*_columns(table)).where(table.c.id.in_(ids[start : start + 1000]))
            )
            for found in result:
                here = encode(table, dict(found._mapping))
                theirs = given[here["id"]]
                if _made(here) == _made(theirs):
                    continue
                if _differs(here, _normalised(table, theirs)):
                    clashes.append(here["id"])
        return clashes

    async def release_seeds(self, table_name: str, rows: list[dict[str, Any]]) -> int:
        """Give way to the file's rows where this folder holds, at their ids, rows Almanac
        wrote itself and nobody changed since (deleted here, so the file's go in); how
        many. None by default."""
        return 0

    def is_seed(self, row: dict[str, Any]) -> bool:
        """Whether a row of a seeded table is one the migrations made (the file's copy
        replaces it); any other is the user's, and may clash."""
        return True

    async def count_rows(self, table_name: str) -> int:
        table = self._table(table_name)
        return int(await self.session.scalar(select(func.count()).select_from(table)) or 0)

    async def fill_nulls(self, table_name: str, column: str, pairs: list[tuple[int, Any]]) -> None:
        """Set `column` on rows by id where it is still empty (a reference written late)."""
        if not pairs:
            return
        table = self._table(table_name)
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"), table.c[column].is_(None))
            .values({column: bindparam("_value")})
        )
        try:
            await self.session.execute(statement, [{"_id": i, "_value": v} for i, v in pairs])
        except IntegrityError as exc:
            raise ValueError(_missing_reference(table.name, exc)) from exc


_ABSENT = re.compile(r'Key \((\w+)\)=\(([^)]*)\) is not present in table "(\w+)"')


def _missing_reference(table: str, exc: IntegrityError) -> str:
    """A row of the file that refers to one neither the file nor the folder holds (a file
    cut short): said as such, not as Postgres' foreign-key traceback."""
    # asyncpg keeps the "Key (…)=(…) is not present" detail on the error the driver wraps.
    cause = getattr(exc.orig, "__cause__", None)
    detail = getattr(cause, "detail", None)
    found = _ABSENT.search(f"{exc.orig} {detail or ''}")
    rule = getattr(cause, "constraint_name", None)
    if found is None and getattr(cause, "sqlstate", None) == "23514" and rule:
        # A check (a memory scope, a salience out of 0..1): the file was whole, and said
        # to be "not whole"; the value is what the rule refuses.
        return (
            f"{table}: a row holds a value the database's rule {rule!r} does not allow "
            "(a file edited by hand, or written by another version of Almanac)"
        )
    if found is None:
        return f"{table}: a row breaks a constraint of the database: the file is not whole"
    column, value, other = found.groups()
    return (
        f"{table}: a row refers to {other} {value} ({column}), which is not in the file "
        "nor in this data folder: the file is not a whole export"
    )
