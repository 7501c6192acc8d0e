"""Which cached recalls a write makes stale, expressed as generation namespaces."""

from __future__ import annotations

from almanac.cache import Cache
from almanac.db.uow import UnitOfWork

ALL = "all"
FACTS = "facts"
# Documents have no session: a recall narrowed to one that asks for documents must still
# see a document added or removed.
DOCUMENTS = "documents"


def event_namespaces(session_id: str | None, client_id: int | None) -> list[str]:
    """Namespaces a new or deleted event touches."""
    namespaces = [ALL]
    if session_id is not None:
        namespaces.append(f"session:{session_id}")
    if client_id is not None:
        namespaces.append(f"client:{client_id}")
    return namespaces


def recall_namespaces(
    session_id: str | None, client_id: int | None, facts: bool, documents: bool = False
) -> list[str]:
    """The narrowest namespaces whose writes can change a recall with these filters."""
    if session_id is not None:
        namespaces = [f"session:{session_id}"]
    elif client_id is not None:
        namespaces = [f"client:{client_id}"]
    else:
        namespaces = [ALL]
    if facts:
        namespaces.append(FACTS)
    if documents:
        namespaces.append(DOCUMENTS)
    return namespaces


class Invalidator:
    """Queues generation bumps to run after the transaction commits."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def _after(self, uow: UnitOfWork, namespaces: list[str]) -> None:
        async def bump() -> None:
            await self.cache.bump(namespaces)

        uow.after_commit(bump)

    def events_changed(self, uow: UnitOfWork, namespaces: list[str]) -> None:
        self._after(uow, namespaces)

    def documents_changed(self, uow: UnitOfWork, client_id: int | None) -> None:
        self._after(uow, [*event_namespaces(None, client_id), DOCUMENTS])

    def facts_changed(self, uow: UnitOfWork) -> None:
        self._after(uow, [FACTS])

    def everything_changed(self, uow: UnitOfWork, namespaces: list[str]) -> None:
        self._after(uow, [ALL, FACTS, DOCUMENTS, *namespaces])
