"""Resources: facts about a subject, today's agenda, a plan, the latest weekly review."""

from __future__ import annotations

import json
from collections.abc import Callable

from mcp.server.fastmcp import Context, FastMCP

from almanac.mcp.api import Api

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]


def register(server: FastMCP, resolve: Resolver) -> None:
    @server.resource(
        "almanac://facts/{subject_type}/{subject_id}",
        name="facts",
        description="The current facts about a subject (e.g. user/me, client/42)",
        mime_type="application/json",
    )
    async def facts(subject_type: str, subject_id: str, ctx: Context) -> str:  # type: ignore[type-arg]
        out = await resolve(ctx).get(
            "/api/v1/memory/facts", subject_type=subject_type, subject_id=subject_id
        )
        return json.dumps(out)

    @server.resource(
        "almanac://agenda/today",
        name="agenda_today",
        description="Today's blocks and busy events in the user's time zone",
        mime_type="application/json",
    )
    async def agenda_today() -> str:
        return json.dumps(await resolve(server.get_context()).calendar(days=1))

    @server.resource(
        "almanac://plans/{plan_id}",
        name="plan",
        description="A plan by id: its tasks, estimates, status and notes",
        mime_type="application/json",
    )
    async def plan(plan_id: str, ctx: Context) -> str:  # type: ignore[type-arg]
        return json.dumps(await resolve(ctx).get(f"/api/v1/planner/plans/{int(plan_id)}"))

    @server.resource(
        "almanac://reviews/weekly/latest",
        name="weekly_review",
        description="The latest weekly review (reflection)",
        mime_type="application/json",
    )
    async def weekly_review() -> str:
        ctx = server.get_context()
        out = await resolve(ctx).get("/api/v1/observer/reflections", mode="weekly", limit=1)
        return json.dumps(out[0] if out else {"review": None, "detail": "no weekly review yet"})
