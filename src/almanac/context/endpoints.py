"""GET /api/v1/memory/context: the context block (served with the Memory Gateway's routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from almanac.context.schemas import ContextOut
from almanac.context.service import ContextService
from almanac.errors import ValidationFailed
from almanac.memory.endpoints import Memory
from almanac.problems import answers
from almanac.types import SafeStr

router = APIRouter(prefix="/api/v1/memory", tags=["memory"])


@router.get(
    "/context",
    responses=answers(503),
)
async def context(
    memory: Memory,
    query: Annotated[SafeStr, Query(min_length=1, max_length=2000)],
    client_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    token_budget: Annotated[int, Query(ge=50, le=20_000)] = 1000,
) -> ContextOut:
    """One prompt-ready text block: facts, memories, open tasks and next blocks, with ids."""
    if not query.strip():
        raise ValidationFailed("query must contain non-whitespace text", field="query")
    return await ContextService(memory).build(query, client_id, token_budget)
