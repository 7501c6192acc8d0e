"""The transaction boundary: requests and jobs commit here, services never do."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

logger = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    """A session plus actions that must only happen once its data is committed.

    Cache invalidation is the main after-commit action: doing it before the commit would
    let a concurrent reader cache the old state under the new generation.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []
        self._wrote = False
        event.listen(session.sync_session, "after_flush", self._flushed)
        event.listen(session.sync_session, "do_orm_execute", self._executed)

    def _flushed(self, _session: Session, _context: object) -> None:
        self._wrote = True

    def _executed(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self._wrote = True

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once the current transaction has committed."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        """Commit, then run the after-commit actions (their failures are logged, not raised)."""
        await self.session.commit()
        self._wrote = False
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception:  # a cache hiccup must not fail a committed write
                logger.exception("after-commit action failed")

    async def end_reads(self) -> None:
        """End a transaction that has only read, so slow work (an LLM call) holds no
        connection; the next statement starts a new transaction.

        Raises `RuntimeError` once the transaction has written (or holds changes or
        after-commit actions): those belong to the boundary's commit, not to a read phase.
        """
        session = self.session
        pending = session.new or session.dirty or session.deleted or self._after_commit
        if self._wrote or pending:
            raise RuntimeError("end_reads() after a write: only the boundary commits")
        if session.in_transaction():
            # Committing a read-only transaction writes nothing; unlike a rollback it keeps
            # loaded rows usable (the sessions do not expire on commit).
            await session.commit()

    async def rollback(self) -> None:
        """Discard the transaction and its pending actions."""
        self._after_commit.clear()
        self._wrote = False
        await self.session.rollback()


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[UnitOfWork]:
    """One unit of work for a request, a job or a CLI command: committed when the block
    ends, rolled back (with its after-commit actions dropped) when it raises."""
    async with sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()
