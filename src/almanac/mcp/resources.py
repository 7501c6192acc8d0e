"""Resources: facts about a subject, today's agenda, a plan, the latest weekly review."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.server.fastmcp import Context, FastMCP

from almanac.mcp.api import Api, Name, ShortText
from almanac.types import INT_MAX, BigId

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]


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
