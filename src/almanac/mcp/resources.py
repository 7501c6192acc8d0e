"""Resources: facts about a subject, today's agenda, a plan, the latest weekly review."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.shared.exceptions import McpError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, ErrorData
from pydantic import ValidationError

from almanac.mcp.api import Api, ApiProblem, Name, ShortText
from almanac.mcp.arguments import validation_text
from almanac.types import INT_MAX, BigId

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]

# The MCP specification's code for a resource that does not exist (server/resources,
# "Error Handling"); the SDK names none, and answered code 0 for every failed read.
RESOURCE_NOT_FOUND = -32002


def not_found(uri: str) -> McpError:
    return McpError(
        ErrorData(code=RESOURCE_NOT_FOUND, message=f"Resource not found: {uri}", data={"uri": uri})
    )


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and what it was raised from or while handling: the SDK wraps a template's
    error in a ValueError (twice), keeping ours as the context."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def read_error(uri: str, exc: Exception) -> McpError:
    """A failed read as a JSON-RPC error: the API's 404 (no such plan) is "resource not
    found", a refused argument (the URI's or the API's 400/422) "invalid params", the
    rest an internal error carrying the API's words."""
    for cause in causes(exc):
        if isinstance(cause, ApiProblem):
            if cause.status == 404:
                code = RESOURCE_NOT_FOUND
            else:
                code = INVALID_PARAMS if cause.status in (400, 422) else INTERNAL_ERROR
            return McpError(ErrorData(code=code, message=str(cause), data={"uri": uri}))
        if isinstance(cause, ValidationError):
            message = f"{uri}: {validation_text(cause)}"
            return McpError(ErrorData(code=INVALID_PARAMS, message=message, data={"uri": uri}))
    return McpError(ErrorData(code=INTERNAL_ERROR, message=str(exc), data={"uri": uri}))


def register(server: FastMCP, resolve: Resolver) -> None:
    def json_resource(uri: str, name: str, description: str) -> Callable[[Any], Any]:
        """A resource whose text is the API's JSON answer."""
        return server.resource(
            uri, name=name, description=description, mime_type="application/json"
        )

    @json_resource(
        "almanac://facts/{subject_type}/{subject_id}",
        "facts",
        "The current facts about a subject (e.g. user/me, client/42)",
    )
    async def facts(subject_type: Name, subject_id: ShortText, ctx: Context) -> str:  # type: ignore[type-arg]
        # About a client, what that client may see (as the meeting prompt asks): a fact
        # another client holds about this one is that other's.
        scope = (
            int(subject_id)
            if subject_type == "client"
            and subject_id.isascii()  # "²" is a digit to `isdigit`, not to `int`
            and subject_id.isdigit()
            and int(subject_id) <= INT_MAX
            else None
        )
        out = await resolve(ctx).get(
            "/api/v1/memory/facts",
            subject_type=subject_type,
            subject_id=subject_id,
            for_client=scope,
        )
        return json.dumps(out)

    @json_resource(
        "almanac://agenda/today",
        "agenda_today",
        "Today's blocks and busy events in the user's time zone",
    )
    async def agenda_today() -> str:
        return json.dumps(await resolve(server.get_context()).calendar(days=1))

    @json_resource(
        "almanac://plans/{plan_id}", "plan", "A plan by id: its tasks, estimates, status and notes"
    )
    async def plan(plan_id: BigId, ctx: Context) -> str:  # type: ignore[type-arg]
        return json.dumps(await resolve(ctx).get(f"/api/v1/planner/plans/{plan_id}"))

    @json_resource(
        "almanac://reviews/weekly/latest", "weekly_review", "The latest weekly review (reflection)"
    )
    async def weekly_review() -> str:
        ctx = server.get_context()
        out = await resolve(ctx).get("/api/v1/observer/reflections", mode="weekly", limit=1)
        return json.dumps(out[0] if out else {"review": None, "detail": "no weekly review yet"})
