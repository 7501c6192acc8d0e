"""Recall: hybrid search over Postgres, a cache in front, Zep's results fused when asked."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime

from almanac.cache import Cache
from almanac.config import Settings
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.external.base import ExternalMemory
from almanac.memory.external.fusion import (
    HELD_BACK,
    ExternalAnswer,
    ask_external,
    external_relevance,
    fuse,
    recall_user,
)
from almanac.memory.forget_repository import ForgetRepository
from almanac.memory.invalidation import recall_namespaces
from almanac.memory.local_recall import LocalAnswer, local_recall
from almanac.memory.relevance import FLOOR, NOTHING_TO_SEARCH, searchable
from almanac.memory.schemas import RecallHit, RecallOut, RecallQuery
from almanac.memory.search import Hit, SearchRepository

_CACHED_ZEP = "a cached answer: Zep's results in it are from when it was cached, Zep was not asked"


class RecallService:
    """One recall: the cached answer, or the local one fused with Zep's."""

    def __init__(
        self,
        uow: UnitOfWork,
        embedder: Embedder,
        cache: Cache,
        settings: Settings,
        search: SearchRepository,
        external: ExternalMemory | None = None,
    ) -> None:
        self.uow = uow
        self.embedder = embedder
        self.cache = cache
        self.settings = settings
        self.search = search
        self.external = external

    async def recall(self, q: RecallQuery) -> RecallOut:
        """Hybrid search over events and facts, cached per scope."""
        started = time.perf_counter()
        if not searchable(q.query):  # no word to search for: no result is about it
            return RecallOut(
                query=q.query,
                results=[],
                cached=False,
                took_ms=_ms(started),
                no_match=True,
                detail=NOTHING_TO_SEARCH,
            )
        event_only = any(
            v is not None for v in (q.session_id, q.memory_scope, q.event_type, q.since, q.until)
        )
        kinds: set[str] = (
            set(q.kinds)
            if q.kinds
            else ({"event"} if event_only else {"event", "fact", "document"})
        )
        ask_zep = (
            self.external is not None
            and not event_only
            and q.as_of is None
            and bool(kinds & {"event", "fact"})
            # Zep is asked for one client's user: none is both of two clients'.
            and (q.client_id is None or q.for_client in (None, q.client_id))
        )
        namespaces = recall_namespaces(
            q.session_id, q.client_id, "fact" in kinds, "document" in kinds
        )
        gens = await self.cache.generations(namespaces)
        key = self._cache_key(q, kinds, gens, ask_zep) if gens is not None else None
        if key is not None:
            raw = await self.cache.get(key)
            if raw is not None:
                hits = [RecallHit.model_validate(h) for h in json.loads(raw)]
                return RecallOut(
                    query=q.query,
                    results=hits,
                    no_match=not hits,
                    cached=True,
                    took_ms=_ms(started),
                    # Zep was not asked now: its part of the answer is what it said when
                    # the answer was cached (the key says whether Zep was asked then).
                    zep="cached" if ask_zep else "off",
                    detail=_CACHED_ZEP if ask_zep else None,
                )
        zep_task, held = None, None
        if self.external is not None and ask_zep:
            user = recall_user(q, self.settings.zep)
            if await ForgetRepository(self.uow.session).zep_deletion_pending(user):
                held = HELD_BACK.format(user=user)
            else:
                asked = ask_external(self.external, self.settings.zep, q, self.embedder)
                zep_task = asyncio.create_task(asked)
        try:
            top, hits, candidates = await self._local(q, kinds)
        except BaseException:
            if zep_task is not None:
                zep_task.cancel()
            raise
        out = RecallOut(query=q.query, results=hits, cached=False, took_ms=0.0, no_match=not hits)
        notes: list[str] = []
        if gens is None:
            notes.append(
                f"the cache ({self.cache.backend}) is unavailable: answered from Postgres, "
                "complete but uncached"
            )
        if held is not None:
            out.zep = "skipped"
            notes.append(held)
        if zep_task is not None:
            external, detail = await zep_task
            if external is None:
                out.zep = "skipped"
                notes.append(detail or "Zep was skipped")
            else:
                out.zep = "used"
                out.results = await self._fuse(q, hits, external, kinds)
                out.no_match = not out.results
        if notes:
            out.degraded, out.detail = True, "; ".join(notes)
        if candidates == 0 and not out.results:  # say why: an empty scope, not the floor
            out.detail = "; ".join([*notes, _nothing_stored(q)])
        # A skipped Zep must not be remembered as the answer for the cache's lifetime; an
        # empty scope is not cached (it is cheap, and the cache would lose why it is empty).
        if key is not None and out.zep != "skipped" and candidates:
            await self._store(key, out.results, top)
        out.took_ms = _ms(started)
        return out

    async def _fuse(
        self, q: RecallQuery, hits: list[RecallHit], answer: ExternalAnswer, kinds: set[str]
    ) -> list[RecallHit]:
        """The local answer and the provider's results on it, floored as the local ones."""
        cfg = self.settings.search
        external = answer.hits
        scale = await external_relevance(self.search, q.query, answer)
        if cfg.relevance_floor and q.floor:
            kept = [(e, r) for e, r in zip(external, scale, strict=True) if r >= FLOOR]
            external, scale = [e for e, _ in kept], [r for _, r in kept]
        return fuse(hits, external, kinds, q.k, cfg.rrf_k, scale)

    async def _local(self, q: RecallQuery, kinds: set[str]) -> LocalAnswer:
        """The Postgres answer: hybrid search over the requested kinds (memory.local_recall)."""
        return await local_recall(self.search, self.embedder, q, kinds)

    def _cache_key(self, q: RecallQuery, kinds: set[str], gens: list[int], zep: bool) -> str:
        params = q.model_dump(mode="json", exclude={"kinds"})
        params["kinds"] = sorted(kinds)
        # An answer cached without Zep is not one with Zep's results, and the other way round.
        params["zep"] = zep
        params["model"] = self.embedder.model
        blob = json.dumps(params, sort_keys=True).encode()
        return "recall:" + ".".join(map(str, gens)) + ":" + hashlib.sha256(blob).hexdigest()

    async def _store(self, key: str, hits: list[RecallHit], top: list[Hit]) -> None:
        ttl = self.settings.cache.recall_ttl_seconds
        now = datetime.now(UTC)
        # A cached answer must not outlive the first memory in it that expires.
        for h in top:
            if h.expires_at is not None:
                ttl = min(ttl, int((h.expires_at - now).total_seconds()))
        if ttl >= 1:
            blob = json.dumps([h.model_dump(mode="json") for h in hits]).encode()
            await self.cache.set(key, blob, ttl)


_FILTERS = ("session_id", "client_id", "memory_scope", "event_type", "since", "until")


def _nothing_stored(q: RecallQuery) -> str:
    """Why a recall found no candidate at all: the filters, or an empty store."""
    given = [name for name in _FILTERS if getattr(q, name) is not None]
    if given:
        return f"nothing is stored within the filters given ({', '.join(given)})"
    return "nothing is stored yet that recall can search"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
