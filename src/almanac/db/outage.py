"""Postgres being unreachable becomes `DatabaseUnavailable` (a 503 problem), not a 500.

asyncpg raises plain `OSError`s when it cannot connect (no socket, refused, reset), which
SQLAlchemy passes on unwrapped; a connection cut mid-statement or a server starting or
shutting down arrives as a DBAPI error. Both are translated where SQLAlchemy lets an
engine hook in, so every caller (requests, jobs, health) sees one exception type, and the
pool still discards the broken connection and reconnects on the next checkout.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from almanac.errors import DatabaseUnavailable

# SQLSTATE classes meaning "no usable connection": 08 connection exception, 57P01-57P03
# admin/crash shutdown and "the database system is starting up".
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03")
# query_canceled: a request's `statement_timeout` ran out (db/limits.py); nothing else here
# cancels statements.
_TIMED_OUT = "57014"


def sqlstate(exc: BaseException | None) -> str:
    while exc is not None:
        state = getattr(exc, "sqlstate", None)
        if isinstance(state, str):
            return state
        exc = exc.__cause__ or getattr(exc, "orig", None)
    return ""


def unavailable(reason: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"the database is unavailable ({reason}); retry shortly", headers={"Retry-After": "5"}
    )


def report_outages(engine: AsyncEngine) -> None:
    """Install the translation on `engine`."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, record: ConnectionPoolEntry, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except (TimeoutError, OSError) as exc:
            raise unavailable(type(exc).__name__) from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _error(ctx: ExceptionContext) -> BaseException | None:
        if ctx.is_pre_ping:  # the pool then reconnects by itself
            return None
        if not isinstance(ctx.original_exception, Exception):
            # A cancelled task (a timeout, a client gone) also lands here, marked as a
            # disconnect: it must stay a cancellation, not become a 503.
            return None
        state = sqlstate(ctx.original_exception)
        if state == _TIMED_OUT:
            return unavailable("no answer within the statement timeout")
        if ctx.is_disconnect or state.startswith(_OUTAGE_STATES):
            return unavailable(f"SQLSTATE {state}" if state else "connection lost")
        return None


class ReportingPool(AsyncAdaptedQueuePool):
    """The engine's pool: a checkout that waits past `pool_timeout` for a free connection
    (every one held, e.g. by requests queued on a lock) is `DatabaseUnavailable` too, so
    requests answer 503 and /health says so, rather than a bare SQLAlchemy TimeoutError."""

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError as exc:
            raise unavailable("every pooled connection is busy") from exc
