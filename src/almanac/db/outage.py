"""Postgres being unreachable becomes `DatabaseUnavailable` (a 503 problem), not a 500;
a transaction it fails to break a deadlock becomes `Busy` (a 503 to retry), not a 500.

asyncpg raises plain `OSError`s when it cannot connect (no socket, refused, reset), which
SQLAlchemy passes on unwrapped; a connection cut mid-statement or a server starting or
shutting down arrives as a DBAPI error. A server that accepts connections but never
answers (paused with SIGSTOP, a hung host) surfaces as asyncpg's client-side
`command_timeout` (a plain `TimeoutError`). All are translated where SQLAlchemy lets an
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

from almanac.errors import Busy, DatabaseUnavailable, PoolBusy

# SQLSTATE classes meaning "no usable connection": 08 connection exception, 57P01-57P03
# admin/crash shutdown and "the database system is starting up", 53300 too many
# connections (the server's or the role's limit: others must end first).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# query_canceled: a request's `statement_timeout` ran out (db/limits.py); nothing else here
# cancels statements.
_TIMED_OUT = "57014"
# deadlock_detected, serialization_failure: Postgres failed this transaction so that a
# concurrent one could go on; it is rolled back whole, so a retry is safe.
_CONFLICTED = ("40P01", "40001")


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


def connect_failure(exc: BaseException) -> str:
    """Why no connection was made, in words: "FileNotFoundError" was a stopped embedded
    server's socket (a missing file), "ConnectionRefusedError" nobody listening."""
    match exc:
        case FileNotFoundError():
            return "no server listens on its socket: it is not running"
        case ConnectionRefusedError():
            return "the connection was refused: no server listens there"
        case TimeoutError():
            return "no answer to connect in time"
        case OSError(strerror=str(reason)):
            return reason[:1].lower() + reason[1:]
    return type(exc).__name__


def _abandon(driver_connection: Any) -> None:
    """Drop a connection whose server stopped answering at once: a graceful close would
    wait for that server again (asyncpg's `close` sends Terminate and awaits the reply)."""
    terminate = getattr(driver_connection, "terminate", None)
    if terminate is not None:
        terminate()


def _silent(seconds: float | None) -> DatabaseUnavailable:
    within = f" within {seconds:g} s" if seconds else ""
    return unavailable(f"the server did not answer{within}")


def report_outages(engine: AsyncEngine, *, command_timeout: float | None = None) -> None:
    """Install the translation on `engine` (`command_timeout`: its client-side limit)."""
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def _ping(dbapi_connection: Any) -> bool:
        # The pool's pre-ping only understands DBAPI errors: a ping the server never
        # answered would escape the checkout as a bare TimeoutError (a 500).
        try:
            return bool(ping(dbapi_connection))
        except TimeoutError as exc:
            _abandon(getattr(dbapi_connection, "driver_connection", None))
            raise _silent(command_timeout) from exc

    dialect.do_ping = _ping  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, record: ConnectionPoolEntry, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except (TimeoutError, OSError) as exc:
            raise unavailable(connect_failure(exc)) from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _error(ctx: ExceptionContext) -> BaseException | None:
        if ctx.is_pre_ping:  # the pool then reconnects by itself
            return None
        if not isinstance(ctx.original_exception, Exception):
            # A cancelled task (a timeout, a client gone) also lands here, marked as a
            # disconnect: it must stay a cancellation, not become a 503.
            return None
        if isinstance(ctx.original_exception, TimeoutError):
            # Only asyncpg's command_timeout raises this here (a cancellation arrives as
            # CancelledError): the server is silent, so the connection is dropped now and
            # the pool is not trusted either (its other connections face the same server).
            if ctx.connection is not None and not ctx.connection.invalidated:
                _abandon(ctx.connection.connection.driver_connection)
            ctx.is_disconnect = True
            return _silent(command_timeout)
        state = sqlstate(ctx.original_exception)
        if state == _TIMED_OUT:
            return unavailable("no answer within the statement timeout")
        if state in _CONFLICTED:
            return Busy(
                "a concurrent request held what this one needed while it waited for this "
                f"one (SQLSTATE {state}); nothing was changed, retry shortly",
                headers={"Retry-After": "1"},
            )
        if ctx.is_disconnect or state.startswith(_OUTAGE_STATES):
            return unavailable(f"SQLSTATE {state}" if state else "connection lost")
        return None


class ReportingPool(AsyncAdaptedQueuePool):
    """The engine's pool: a checkout that waits past `pool_timeout` for a free connection
    (every one held, e.g. by requests queued on a lock) is `PoolBusy`: requests answer the
    same 503 `Busy` problem with Retry-After as a writer refused the lock, and /health says
    the database is out of connections, rather than a bare SQLAlchemy TimeoutError."""

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError as exc:
            raise PoolBusy(
                f"the server is busy: every pooled connection is busy (waited {self._timeout:g}"
                " s for one); nothing was changed, retry shortly",
                headers={"Retry-After": "5"},
            ) from exc
