"""Observer routes under /api/v1/observer: reflections, patterns, fact extraction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

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
from almanac.routing import ONE_VALUE_EACH
from almanac.routing import PathId as Id
from almanac.types import WorkDay

router = APIRouter(prefix="/api/v1/observer", tags=["observer"])


EventId = Annotated[int, Query(ge=1, le=2**63 - 1)]


REFLECT_PARAMS = frozenset({"mode", "date"})


def known_params(request: Request, known: frozenset[str], what: str) -> None:
    """A 422 naming a query parameter the endpoint does not take: `?client_id=7` listed
    every client's reflections as if filtered, `?day=` reflected on today."""
    takes = ", ".join(sorted(known)) or "no parameters"
    for name in request.query_params:
        if name not in known:
            raise ValidationFailed(
                f"unknown query parameter {name!r}: {what} takes {takes}", field=name
            )


@router.post("/reflect")
async def reflect(
    request: Request,
    observer: Observer,
    mode: Mode | None = None,
    day: Annotated[WorkDay | None, Query(alias="date")] = None,
    body: Annotated[ReflectIn | None, Body()] = None,
) -> ReflectionOut:
    """Reflect on a day or on the Monday–Sunday week containing `date` (default today).

    `mode` and `date` are query parameters, or the same fields in a JSON body. An unknown
    parameter (`?day=`), one given twice differently, or a body that disagrees with the query
    is a 422: each reflected silently on a period other than the one asked for."""
    known_params(request, REFLECT_PARAMS, "reflect")
    for name in request.query_params:
        # `?mode=daily&mode=weekly` reflected on the last one silently.
        if len(set(request.query_params.getlist(name))) > 1:
            raise ValidationFailed(f"{name} is given more than once, differently", field=name)
    if body is not None:
        for name, query, sent in (("mode", mode, body.mode), ("date", day, body.date)):
            if query is not None and sent is not None and query != sent:
                raise ValidationFailed(
                    f"{name} is {query} in the query and {sent} in the body", field=name
                )
        mode, day = mode or body.mode, day or body.date
    return await observer.reflect(mode or "daily", day)


@router.get("/reflections", dependencies=ONE_VALUE_EACH)
async def list_reflections(
    request: Request,
    observer: Observer,
    mode: Mode | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[ReflectionOut]:
    """Stored reflections, latest period first. They are the user's own, for every client:
    there is no client filter, and asking for one is a 422."""
    known_params(request, frozenset({"mode", "limit"}), "reflections")
    return await observer.reflections(mode, limit)


@router.get("/reflections/{reflection_id}")
async def get_reflection(reflection_id: Id, observer: Observer) -> ReflectionOut:
    return await observer.get(reflection_id)


@router.get("/patterns")
async def patterns(request: Request, observer: Observer) -> list[PatternOut]:
    """Per workflow: runs, mean variance, trend, current and suggested estimate (overall
    and per client, in `client_estimates`). It takes no parameters: `?client_id=7` or
    `?workflow_id=3` answered every workflow of every client as if filtered."""
    known_params(request, frozenset(), "patterns")
    return await observer.patterns()


@router.post("/extract-facts", responses=answers(404, 409, 503))
async def extract_facts(event_id: EventId, observer: Observer) -> ExtractionOut:
    """Extract durable facts from one event now (idempotent per event)."""
    return await observer.facts.extract(event_id)


@router.get("/fact-decisions", dependencies=ONE_VALUE_EACH)
async def fact_decisions(
    request: Request,
    observer: Observer,
    event_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[FactDecisionOut]:
    """What happened to each proposed fact, oldest first."""
    known_params(request, frozenset({"event_id", "limit"}), "fact-decisions")
    return await observer.facts.decisions(event_id, limit)
