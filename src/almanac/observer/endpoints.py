"""Observer routes under /api/v1/observer: reflections, patterns, fact extraction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from almanac.errors import ValidationFailed
from almanac.observer.deps import Observer
from almanac.observer.schemas import (
    ExtractionOut,
    FactDecisionOut,
    Mode,
    PatternOut,
    ReflectIn,
    ReflectionOut,
)
from almanac.problems import answers
from almanac.routing import PathId as Id
from almanac.types import Offset, WorkDay

router = APIRouter(prefix="/api/v1/observer", tags=["observer"])


EventId = Annotated[int, Query(ge=1, le=2**63 - 1)]


@router.post("/reflect")
async def reflect(
    observer: Observer,
    mode: Mode | None = None,
    day: Annotated[WorkDay | None, Query(alias="date")] = None,
    body: Annotated[ReflectIn | None, Body()] = None,
) -> ReflectionOut:
    """Reflect on a day or on the Monday–Sunday week containing `date` (default today).

    `mode` and `date` are query parameters, or the same fields in a JSON body. An unknown
    parameter (`?day=`), one given twice differently, or a body that disagrees with the query
    is a 422: each reflected silently on a period other than the one asked for."""
    if body is not None:
        for name, query, sent in (("mode", mode, body.mode), ("date", day, body.date)):
            if query is not None and sent is not None and query != sent:
                raise ValidationFailed(
                    f"{name} is {query} in the query and {sent} in the body", field=name
                )
        mode, day = mode or body.mode, day or body.date
    return await observer.reflect(mode or "daily", day)


@router.get("/reflections")
async def list_reflections(
    observer: Observer,
    mode: Mode | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[Offset, Query()] = 0,
) -> list[ReflectionOut]:
    """Stored reflections, latest period first, `limit` from `offset` (past the first 200,
    last year's could not be read). They are the user's own, for every client: there is
    no client filter, and asking for one is a 422."""
    return await observer.reflections(mode, limit, offset)


@router.get("/reflections/{reflection_id}")
async def get_reflection(reflection_id: Id, observer: Observer) -> ReflectionOut:
    return await observer.get(reflection_id)


@router.get("/patterns")
async def patterns(observer: Observer) -> list[PatternOut]:
    """Per workflow: runs, mean variance, trend, current and suggested estimate (overall
    and per client, in `client_estimates`). It takes no parameters: `?client_id=7` or
    `?workflow_id=3` answered every workflow of every client as if filtered."""
    return await observer.patterns()


@router.post("/extract-facts", responses=answers(404, 409, 503))
async def extract_facts(event_id: EventId, observer: Observer) -> ExtractionOut:
    """Extract durable facts from one event now (idempotent per event)."""
    return await observer.facts.extract(event_id)


@router.get("/fact-decisions")
async def fact_decisions(
    observer: Observer,
    event_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[Offset, Query()] = 0,
) -> list[FactDecisionOut]:
    """What happened to each proposed fact, oldest first, `limit` from `offset` (without
    it, past the first 1,000 the newest decisions could not be read at all)."""
    return await observer.facts.decisions(event_id, limit, offset)
