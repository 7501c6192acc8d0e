"""The transaction boundary: requests and jobs commit here, services never do."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

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

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once the current transaction has committed."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        """Commit, then run the after-commit actions (their failures are logged, not raised)."""
        await self.session.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception:  # a cache hiccup must not fail a committed write
                logger.exception("after-commit action failed")

    async def rollback(self) -> None:
        """Discard the transaction and its pending actions."""
        self._after_commit.clear()
        await self.session.rollback()
