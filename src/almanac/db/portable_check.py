"""A row of an export file checked against its table's columns before anything is written.

Read with no check, a value of the wrong kind failed deep in the driver (a salience of
"high": a TypeError traceback; a client id of 2**40: "value out of int32 range", 300 lines
of it), or as "a row breaks a constraint: the file is not whole" for a file that was whole.
Here each is a line of the file, its column and the reason.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB

_INT_RANGE = {SmallInteger: 2**15 - 1, Integer: 2**31 - 1, BigInteger: 2**63 - 1}


def row_problem(table: Table, row: dict[str, Any]) -> str | None:
    """`column: reason` for the first value its column cannot hold, or None."""
    columns = {c.name: c for c in table.columns if c.computed is None}
    for name in row:
        if name not in columns:
            return f"{name[:60]}: no such column in {table.name}"
    for name, column in columns.items():
        if name not in row:
            continue
        reason = _value_problem(column, row[name])
        if reason is not None:
            return f"{name}: {reason}"
    return None


def _value_problem(column: Column[Any], value: Any) -> str | None:
    kind = column.type
    if value is None:
        return None if column.nullable else "must not be null"
    if isinstance(kind, Boolean):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(kind, Integer):  # BigInteger and SmallInteger are Integers too
        top = next((n for t, n in _INT_RANGE.items() if type(kind) is t), 2**31 - 1)
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        return None if -top - 1 <= value <= top else f"must be from {-top - 1} to {top}"
    if isinstance(kind, Float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(kind, String):  # Text too
        if not isinstance(value, str):
            return "must be text"
        if kind.length is not None and len(value) > kind.length:
            return f"must be at most {kind.length} characters"
        return "must not hold a NUL character" if "\x00" in value else None
    if isinstance(kind, DateTime | Date):
        return _time_problem(kind, value)
    if isinstance(kind, JSONB):
        # Postgres' JSONB holds no \u0000 (its text type has no NUL).
        return "must not hold a NUL character" if _holds_nul(value) else None
    if isinstance(kind, ARRAY):
        return None if isinstance(value, list) else "must be a list"
    return None


def _holds_nul(value: Any) -> bool:
    """Whether a JSON value holds a NUL in any string or key (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _time_problem(kind: DateTime | Date, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be an ISO 8601 text"
    try:
        if isinstance(kind, DateTime):
            at = datetime.fromisoformat(value)
            if kind.timezone and at.tzinfo is None:
                return "must be an ISO 8601 time with its offset"
        else:
            date.fromisoformat(value)
    except ValueError:
        return f"must be an ISO 8601 {'time' if isinstance(kind, DateTime) else 'date'}"
    return None
