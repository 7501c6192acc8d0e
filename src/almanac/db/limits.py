"""Bounds on how long a request's or a job's session may wait inside Postgres.

Requests (not migrations, index builds or benchmarks) mark their session with
`bound_request`: every transaction it begins gets `SET LOCAL statement_timeout`, and
`wait_for_lock` gives up on a lock held past the write-lock timeout. Both surface as 503
problems with Retry-After, so a burst of writers is answered instead of queueing forever
on pooled connections. Jobs that take the schedule writers' lock mark theirs with
`bound_lock_wait` alone: they give up with the same `Busy`, and are retried shortly
(`jobs.app.Backoff`) rather than waiting into the client's command timeout.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from almanac.db.outage import sqlstate
from almanac.errors import Busy

_LOCK_TIMEOUT = "almanac.write_lock_timeout_seconds"
_LOCK_NOT_AVAILABLE = "55P03"


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"  # 0 would mean "no limit"


def bound_request(
    session: AsyncSession, *, write_lock_timeout: float, statement_timeout: float | None
) -> None:
    """Give `session` the request limits (see the module docstring)."""
    bound_lock_wait(session, write_lock_timeout)
    if statement_timeout is None:
        return
    setting = _ms(statement_timeout)

    def _begun(_s: Session, _t: SessionTransaction, connection: Connection) -> None:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = '{setting}'")

    event.listen(session.sync_session, "after_begin", _begun)


def bound_lock_wait(session: AsyncSession, seconds: float) -> None:
    """`wait_for_lock` in `session` waits at most `seconds`, then raises `Busy`."""
    session.info[_LOCK_TIMEOUT] = seconds


async def wait_for_lock(
    session: AsyncSession, statement: str, params: dict[str, Any], what: str
) -> None:
    """Run `statement` (one that takes a lock), waiting at most the session's write-lock
    timeout when it has one; `Busy` (503) when the wait runs out.

    The limit is set just around the lock: the row locks taken later in the transaction
    keep the server's own `lock_timeout`.
    """
    timeout = session.info.get(_LOCK_TIMEOUT)
    if timeout is None:
        await session.execute(text(statement), params)
        return
    await session.execute(
        text("SELECT set_config('lock_timeout', :limit, true)"), {"limit": _ms(timeout)}
    )
    try:
        await session.execute(text(statement), params)
    except DBAPIError as exc:
        if sqlstate(exc) != _LOCK_NOT_AVAILABLE:
            raise
        raise Busy(
            f"{what} is being written by another request and stayed busy for {timeout:g} s;"
            " nothing was changed, retry shortly",
            headers={"Retry-After": str(max(1, round(timeout / 4)))},
        ) from exc
    await session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
