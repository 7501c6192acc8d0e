"""HTTP routes of the Memory Gateway under /api/v1/memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from almanac.auth.deps import AdminOnly
from almanac.db.repository import row_out
from almanac.deps import State, UoW
from almanac.memory.port import memory_service
from almanac.memory.retention import run_retention
from almanac.memory.schemas import (
    DeletedOut,
    EventOut,
    FactIn,
    FactOut,
    FactsQuery,
    FactType,
    FactWriteOut,
    ForgetOut,
    Kind,
    MemoryScope,
    RecallOut,
    RecallQuery,
    RememberBatchIn,
    RememberBatchOut,
    RememberIn,
    RememberOut,
    RetentionIn,
    RetentionOut,
    SupersedeIn,
)
from almanac.memory.service import MemoryService
from almanac.problems import answers
from almanac.routing import replayed_as_200
from almanac.types import COMMA_SEPARATED, AwareDatetime, BigId, ForClient, IntId, SafeStr

router = APIRouter(prefix="/api/v1/memory", tags=["memory"])
# The app's state key of the text → hint function `remember` answers with (set by the app:
# the rules are the scheduler's, above this domain).
REMEMBER_HINT = "remember_hint"


def get_memory_service(uow: UoW, state: State) -> MemoryService:
    return memory_service(uow, state)


Memory = Annotated[MemoryService, Depends(get_memory_service)]
Id = Annotated[BigId, Path()]


@router.post(
    "/remember",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry: the memory stored first"}, **answers(409, 503)},
)
async def remember(
    body: RememberIn, memory: Memory, uow: UoW, request: Request, response: Response
) -> RememberOut:
    """Store a memory (idempotent with `idempotency_key`).

    A retry answers 200 with the memory stored first.
    `hint` says when a plain memory reads as a scheduling preference, which only a
    preference fact applies.
    """
    result = await memory.remember_many([body])
    await uow.commit()  # answer after commit: `stored_in` reports the after-commit cache write
    out = replayed_as_200(response, (result.one(), not result.duplicates))
    hinter: Callable[[str], str | None] | None = getattr(request.app.state, REMEMBER_HINT, None)
    if hinter is not None and out.promoted_to_fact_id is None:
        out.hint = hinter(body.content)
    return out


@router.post(
    "/remember/batch",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry: every item stored before"}, **answers(409, 503)},
)
async def remember_batch(
    body: RememberBatchIn, memory: Memory, uow: UoW, response: Response
) -> RememberBatchOut:
    """Store up to 1,000 memories: all or none; 200 when each was stored before."""
    result = await memory.remember_many(body.items, batch=True)
    await uow.commit()
    return replayed_as_200(response, (result.batch(), len(result.duplicates) < len(result.ids)))


@router.get("/recall", responses=answers(503))
async def recall(
    memory: Memory,
    query: Annotated[SafeStr, Query(min_length=1, max_length=2000)],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    session_id: Annotated[SafeStr | None, Query(min_length=1, max_length=255)] = None,
    client_id: Annotated[IntId | None, Query()] = None,
    memory_scope: MemoryScope | None = None,
    event_type: Annotated[SafeStr | None, Query(min_length=1, max_length=100)] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    as_of: Annotated[AwareDatetime | None, Query()] = None,
    kinds: Annotated[list[Kind] | None, Query(), COMMA_SEPARATED] = None,
    for_client: Annotated[ForClient | None, Query()] = None,
    floor: Annotated[bool, Query()] = True,
) -> RecallOut:
    """Hybrid semantic and full-text search over memories and current facts."""
    q = RecallQuery.model_validate(
        {
            "query": query,
            "k": k,
            "session_id": session_id,
            "client_id": client_id,
            "memory_scope": memory_scope,
            "event_type": event_type,
            "since": since,
            "until": until,
            "as_of": as_of,
            "kinds": kinds,
            "for_client": for_client,
            "floor": floor,
        }
    )
    return await memory.recall(q)


@router.get("/events/{event_id}")
async def get_event(event_id: Id, memory: Memory) -> EventOut:
    """One remembered event."""
    return await memory.get_event(event_id)


@router.delete("/events/{event_id}")
async def delete_event(event_id: Id, memory: Memory) -> DeletedOut:
    """Forget one event (and its embedding and cached recalls)."""
    await memory.delete_event(event_id)
    return DeletedOut(id=event_id, kind="event")


@router.post(
    "/facts",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The fact was current already"}, **answers(409, 503)},
)
async def create_fact(body: FactIn, memory: Memory, response: Response) -> FactWriteOut:
    """Add a durable fact; it supersedes the current one in the same slot. The same fact
    again (a retry) adds nothing and answers 200 with it (`duplicate`)."""
    out = await memory.facts.write(body, wait_for_forgets=True)
    return replayed_as_200(response, (out, not out.duplicate))


@router.get("/facts")
async def list_facts(
    memory: Memory,
    subject_type: Annotated[SafeStr | None, Query(min_length=1, max_length=100)] = None,
    subject_id: Annotated[SafeStr | None, Query(min_length=1, max_length=255)] = None,
    fact_type: FactType | None = None,
    as_of: Annotated[AwareDatetime | None, Query()] = None,
    include_history: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    for_client: Annotated[ForClient | None, Query()] = None,
) -> list[FactOut]:
    """Facts: current ones, those valid at `as_of`, or every version with `include_history`."""
    q = FactsQuery.model_validate(
        {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "fact_type": fact_type,
            "as_of": as_of,
            "include_history": include_history,
            "limit": limit,
            "for_client": for_client,
        }
    )
    return await memory.facts.list(q)


@router.get("/facts/{fact_id}")
async def get_fact(fact_id: Id, memory: Memory) -> FactOut:
    """One fact, current or superseded (the dashboard's detail view)."""
    return await memory.facts.get(fact_id)


@router.post(
    "/facts/{fact_id}/supersede",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The successor was current already"}, **answers(409, 503)},
)
async def supersede_fact(
    fact_id: Id, body: SupersedeIn, memory: Memory, response: Response
) -> FactWriteOut:
    """Close a fact's validity and open its successor in one transaction.

    A successor the slot already holds (a retry) is not added again: 200 with it."""
    out = await memory.facts.supersede(fact_id, body)
    return replayed_as_200(response, (out, not out.duplicate))


@router.delete("/facts/{fact_id}")
async def delete_fact(fact_id: Id, memory: Memory) -> DeletedOut:
    """Delete one fact."""
    await memory.facts.delete(fact_id)
    return DeletedOut(id=fact_id, kind="fact")


# `:path`: an id may hold a slash ("ana/b"), sent as %2F and decoded before routing.
@router.delete("/subjects/{subject_type}/{subject_id:path}", dependencies=[AdminOnly])
async def forget_subject(
    subject_type: Annotated[SafeStr, Path(min_length=1, max_length=100)],
    subject_id: Annotated[SafeStr, Path(min_length=1, max_length=255)],
    memory: Memory,
    uow: UoW,
) -> ForgetOut:
    """Forget everything about a subject, in every store, with a count per store.

    A client (`client/<id>`) also loses what carries its `client_id`: memories, facts,
    plans and their memories, the calendar blocks placed for them."""
    out = await memory.forget_subject(subject_type, subject_id)
    await uow.commit()  # the archive rewrite runs after the commit and is counted too
    return out


@router.post("/retention", dependencies=[AdminOnly])
async def run_retention_now(body: RetentionIn, state: State) -> RetentionOut:
    """Archive old events that never became facts to the data folder's `retention/`, then
    delete them (`dry_run`: count only). Run by the server so its cache forgets them too."""
    report = await run_retention(state, days=body.days, dry_run=body.dry_run)
    return row_out(RetentionOut, report, files=[str(path) for path in report.files])
