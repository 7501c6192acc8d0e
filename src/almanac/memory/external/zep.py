"""Zep Cloud through its official SDK (`zep-cloud`, the v2 REST API: users, threads, graph)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from zep_cloud import Message, SearchFilters
from zep_cloud.client import AsyncZep
from zep_cloud.core.api_error import ApiError

from almanac.config import ZepSettings
from almanac.memory.external.base import (
    ExternalEdge,
    ExternalHit,
    ExternalMemory,
    ExternalMemoryError,
    ExternalUnavailable,
    ExternalUnreachable,
    OutgoingMessage,
)

# The metadata key carrying the Almanac event id: how a retry finds what it already sent.
EVENT_KEY = "almanac_event_id"
FACT_KEY = "almanac_fact_id"
# How far back in a thread a retry looks for its messages (retries come soon after).
_RECENT = 200
# How many of a thread's messages forgetting looks through for the forgotten ones.
_FORGET_SCAN = 10_000


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


_RAISE = object()  # `_call`'s default: a 404 is an error like any other
# Answers that say "not now" (besides every 5xx): timed out, rate limited.
_FOR_NOW = frozenset({408, 429})


class ZepMemory(ExternalMemory):
    """Users and threads in Zep, searched through the user's graph (facts and episodes)."""

    name = "zep"

    def __init__(self, settings: ZepSettings) -> None:
        assert settings.api_key is not None
        self.client = AsyncZep(
            api_key=settings.api_key.get_secret_value(),
            base_url=settings.base_url,
            timeout=settings.timeout_seconds,
        )

    async def _call(self, coro: Any, *, on_404: Any = _RAISE) -> Any:
        """Await one SDK call: an answered error is an ExternalMemoryError, anything else
        (transport errors, timeouts, bad JSON) ExternalUnreachable; a 404 gives `on_404`
        instead when the caller says what a missing thing means."""
        try:
            return await coro
        except ApiError as exc:
            if exc.status_code == 404 and on_404 is not _RAISE:
                return on_404
            said = f"zep answered {exc.status_code}: {exc.body}"
            if exc.status_code is not None and (
                exc.status_code in _FOR_NOW or exc.status_code >= 500
            ):
                raise ExternalUnavailable(said) from exc
            raise ExternalMemoryError(said) from exc
        except ValidationError as exc:
            # An answer, but not of the API's shape: not "unreachable", and the SDK's model
            # errors run to many lines with a link each.
            raise ExternalMemoryError(
                f"zep answered something that is not its API's JSON ({exc.error_count()} "
                f"error(s) reading it as {exc.title})"
            ) from exc
        except Exception as exc:
            raise ExternalUnreachable(f"zep unreachable: {type(exc).__name__}: {exc}") from exc

    async def _ensure_thread(self, user_id: str, thread_id: str) -> set[int]:
        """Create the user and thread when missing; the event ids already in the thread."""
        listed = await self._call(self.client.thread.get(thread_id, lastn=_RECENT), on_404=None)
        if listed is not None:
            marks = [str((m.metadata or {}).get(EVENT_KEY, "")) for m in listed.messages or []]
            return {int(mark) for mark in marks if mark.isdigit()}
        await self._ensure_user(user_id)
        await self._call(self.client.thread.create(thread_id=thread_id, user_id=user_id))
        return set()

    async def add_messages(
        self, user_id: str, thread_id: str, messages: list[OutgoingMessage]
    ) -> list[int]:
        present = await self._ensure_thread(user_id, thread_id)
        todo = [m for m in messages if m.event_id not in present]
        if todo:
            await self._call(
                self.client.thread.add_messages(
                    thread_id,
                    messages=[
                        Message(
                            content=m.content,
                            role=m.role,
                            name=m.name,
                            created_at=m.occurred_at.isoformat(),
                            metadata={EVENT_KEY: str(m.event_id)},
                        )
                        for m in todo
                    ],
                )
            )
        return [m.event_id for m in todo]

    async def _ensure_user(self, user_id: str) -> None:
        if await self._call(self.client.user.get(user_id), on_404=None) is None:
            await self._call(self.client.user.add(user_id=user_id))

    async def add_fact(self, user_id: str, fact_id: int, content: str, valid_from: datetime) -> str:
        await self._ensure_user(user_id)
        recent = await self._call(self.client.graph.episode.get_by_user_id(user_id, lastn=_RECENT))
        for ep in recent.episodes or []:
            if str((ep.metadata or {}).get(FACT_KEY, "")) == str(fact_id):
                return str(ep.uuid_)
        episode = await self._call(
            self.client.graph.add(
                user_id=user_id,
                type="text",
                data=content,
                created_at=valid_from.isoformat(),
                source_description="almanac fact",
                metadata={FACT_KEY: str(fact_id)},
            )
        )
        return str(episode.uuid_)

    async def fact_edges(self, user_id: str, episode: str) -> list[ExternalEdge] | None:
        found = await self._call(self.client.graph.episode.get(episode), on_404=None)
        if found is None:
            return []  # deleted (forgotten): nothing of it left to date
        edges = await self._call(
            self.client.graph.edge.get_by_user_id(
                user_id, filters=SearchFilters(episode_uuids=[episode]), limit=_RECENT
            ),
            on_404=[],
        )
        # Zep learns from an episode in the background: no edge yet from one it has not
        # processed is no answer yet.
        if not edges and found.processed is False:
            return None
        return [ExternalEdge(e.uuid_, tuple(e.episodes or (episode,))) for e in edges]

    async def date_edges(
        self, refs: list[str], valid_from: datetime, valid_to: datetime | None
    ) -> None:
        start = valid_from.isoformat()
        edges = self.client.graph.edge
        for ref in refs:
            # No end given is not sent at all: a null would clear one Zep set itself.
            call = (
                edges.update(ref, valid_at=start)
                if valid_to is None
                else edges.update(ref, valid_at=start, invalid_at=valid_to.isoformat())
            )
            # One gone since it was listed (deleted with another episode) needs no date.
            await self._call(call, on_404=None)

    async def search(self, user_id: str, query: str, limit: int) -> list[ExternalHit]:
        # Zep caps a search query at 400 characters.
        q = query[:400]
        edges, episodes = await asyncio.gather(
            self._call(self.client.graph.search(user_id=user_id, query=q, limit=limit)),
            self._call(
                self.client.graph.search(user_id=user_id, query=q, limit=limit, scope="episodes")
            ),
        )
        hits: list[ExternalHit] = []
        for e in edges.edges or []:
            hits.append(
                ExternalHit(
                    ref=e.uuid_,
                    kind="fact",
                    content=e.fact,
                    score=e.score,
                    valid_at=_parse_time(e.valid_at),
                    invalid_at=_parse_time(e.invalid_at),
                    metadata={"zep_uuid": e.uuid_, "name": e.name},
                )
            )
        for ep in episodes.episodes or []:
            meta: dict[str, Any] = {"zep_uuid": ep.uuid_}
            if ep.thread_id:
                meta["zep_thread_id"] = ep.thread_id
            hits.append(
                ExternalHit(
                    ref=ep.uuid_, kind="message", content=ep.content, score=ep.score, metadata=meta
                )
            )
        hits.sort(key=lambda h: h.score or 0.0, reverse=True)
        return hits[:limit]

    async def list_facts(self, user_id: str, limit: int) -> list[ExternalHit]:
        # No such user yet (404): nothing extracted.
        edges = await self._call(
            self.client.graph.edge.get_by_user_id(user_id, limit=limit), on_404=[]
        )
        return [
            ExternalHit(
                ref=e.uuid_,
                kind="fact",
                content=e.fact,
                score=None,
                valid_at=_parse_time(e.valid_at),
                invalid_at=_parse_time(e.invalid_at),
                metadata={"name": e.name, "subject": e.source_node_name or e.source_node_uuid},
            )
            for e in edges
        ]

    async def _gone(self, coro: Any) -> None:
        """Run one delete; a 404 means an earlier run (or Zep itself) already deleted it."""
        await self._call(coro, on_404=None)

    async def _message_episodes(self, thread_id: str) -> list[str] | None:
        """The uuids of a thread's messages (each one a graph episode); None: no thread."""
        listed = await self._call(
            self.client.thread.get(thread_id, lastn=_FORGET_SCAN), on_404=None
        )
        if listed is None:
            return None
        return [m.uuid_ for m in listed.messages or [] if m.uuid_]

    async def forget_episodes(self, threads: list[str], episodes: list[str]) -> frozenset[str]:
        done: set[str] = set()
        for thread_id in threads:
            for uuid in await self._message_episodes(thread_id) or []:
                await self._gone(self.client.graph.episode.delete(uuid))
                done.add(uuid)
        for uuid in episodes:
            await self._gone(self.client.graph.episode.delete(uuid))
        return frozenset(done)

    async def forget(
        self,
        users: list[str],
        threads: list[str],
        event_ids: list[int],
        episodes: list[str],
        done: frozenset[str] = frozenset(),
    ) -> None:
        # Zep deletes no single message: the thread goes whole (Almanac re-sends the
        # memories it still holds), and first the graph episodes of all its messages, since
        # deleting a thread leaves what Zep's graph learnt from it: the forgotten messages'
        # (`event_ids`) must go, and a kept one's would be there twice once it is re-sent.
        for thread_id in threads:
            found = await self._message_episodes(thread_id)
            if found is None:
                continue
            for uuid in found:
                if uuid not in done:
                    await self._gone(self.client.graph.episode.delete(uuid))
            await self._gone(self.client.thread.delete(thread_id))
        for uuid in episodes:
            await self._gone(self.client.graph.episode.delete(uuid))
        for user_id in users:
            await self._gone(self.client.user.delete(user_id))

    async def check(self) -> None:
        # Any answer from the API, even "no such user", proves Zep is up and the key works.
        await self._call(self.client.user.get("almanac-health-probe"), on_404=None)

    async def close(self) -> None:
        wrapper = self.client._client_wrapper  # the SDK exposes no close()
        await wrapper.httpx_client.httpx_client.aclose()
