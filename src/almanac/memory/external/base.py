"""The interface every external memory provider implements, and its plain data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


class ExternalMemoryError(Exception):
    """The provider failed or answered an error; callers degrade, never fail, on it."""


class ExternalUnavailable(ExternalMemoryError):
    """The provider cannot serve for now (rate limited, failing with a 5xx, or
    unreachable): a job meeting it is retried without end, as Zep's outage has none."""


class ExternalUnreachable(ExternalUnavailable):
    """The provider could not be reached at all (connection refused, timeout)."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One Almanac event as a message for the provider."""

    event_id: int
    content: str
    occurred_at: datetime
    role: Literal["user", "assistant", "system"] = "user"
    name: str | None = None


@dataclass(frozen=True)
class ExternalHit:
    """One search result from the provider, best first."""

    ref: str  # the provider's id (edge or episode uuid)
    kind: Literal["fact", "message"]
    content: str
    score: float | None
    valid_at: datetime | None = None
    invalid_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExternalEdge:
    """One fact the provider's graph learnt, and the episodes it learnt it from."""

    ref: str
    episodes: tuple[str, ...]


class ExternalMemory(ABC):
    """A remote memory: write messages into user threads, search the user's memory."""

    name: str
    # When (monotonic) and why the last recall went without it, and the user it searched;
    # None once one had its answer. /health searches again while it is set: its probe can
    # pass while every search fails or is too slow.
    last_skip: tuple[float, str, str] | None = None

    @abstractmethod
    async def add_messages(
        self, user_id: str, thread_id: str, messages: list[OutgoingMessage]
    ) -> list[int]:
        """Send messages not already in the thread; returns the event ids actually sent.

        Idempotent: a message whose event id the thread already holds is skipped.
        """

    @abstractmethod
    async def add_fact(self, user_id: str, fact_id: int, content: str, valid_from: datetime) -> str:
        """Write one Almanac fact into the user's graph; returns the provider's id for it.

        Idempotent: a fact the user's recent graph data already holds is not written again.
        """

    @abstractmethod
    async def fact_edges(self, user_id: str, episode: str) -> list[ExternalEdge] | None:
        """What the provider learnt from one fact written by `add_fact` (its id
        `episode`); None while it is still learning from it (ask again later); [] when
        the episode is gone or taught it nothing."""

    @abstractmethod
    async def date_edges(
        self, refs: list[str], valid_from: datetime, valid_to: datetime | None
    ) -> None:
        """These learnt facts hold from `valid_from` until `valid_to` (None: an end the
        provider set itself stays). Idempotent."""

    @abstractmethod
    async def search(self, user_id: str, query: str, limit: int) -> list[ExternalHit]:
        """The user's facts and messages that match `query`, best first."""

    @abstractmethod
    async def list_facts(self, user_id: str, limit: int) -> list[ExternalHit]:
        """The facts the provider extracted for the user (valid or invalidated)."""

    @abstractmethod
    async def forget(
        self,
        users: list[str],
        threads: list[str],
        event_ids: list[int],
        episodes: list[str],
        done: frozenset[str] = frozenset(),
    ) -> None:
        """Delete what Almanac wrote: whole users, threads (and the graph episodes of the
        messages of `event_ids` in them), and fact episodes; not again the message
        episodes in `done` (deleted by `forget_episodes`).

        Idempotent: what is already gone counts as deleted.
        """

    async def forget_episodes(self, threads: list[str], episodes: list[str]) -> frozenset[str]:
        """The bulk of `forget` (a call per message), done ahead of it, with no lock held:
        the graph episodes of the threads' messages, and fact episodes; the message
        episodes deleted. By default none: `forget` does it all."""
        return frozenset()

    @abstractmethod
    async def check(self) -> None:
        """Raise `ExternalMemoryError` when the provider cannot be reached."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""
