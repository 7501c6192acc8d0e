"""Prompts: plan my week, daily review, prepare for a client meeting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from mcp.server.fastmcp import Context, FastMCP
from pydantic import AfterValidator, Field

from almanac.mcp.api import Api
from almanac.mcp.tools.memory import fact_line, hits_text
from almanac.types import IntId, check_text

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]


def register(server: FastMCP, resolve: Resolver) -> None:
    @server.prompt(
        name="plan_my_week",
        title="Plan my week",
        description="Plan the coming week from open plans, the agenda and preferences",
    )
    def plan_my_week(
        # Bounded as `topic` is: it was any length (and a NUL), echoed into the prompt.
        focus: Annotated[str, Field(max_length=2000), AfterValidator(check_text)] = "",
    ) -> str:
        extra = f" Focus on: {focus}." if focus else ""
        return (
            "Help me plan my week with Almanac." + extra + " First call agenda with days=7 and "
            "list_plans with status=approved and status=draft; recall my preferences "
            "(recall 'working hours deep work preferences', kinds=['fact']). Propose what to "
            "plan or approve, then schedule each approved plan as a dry run, show me the "
            "blocks, and only call schedule with apply=true after I agree."
        )

    @server.prompt(
        name="daily_review",
        title="Daily review",
        description="Review today: what got done, drift, and tomorrow",
    )
    def daily_review() -> str:
        return (
            "Run my daily review with Almanac: call reflect (mode=daily), then agenda for "
            "tomorrow (days=2). Summarise what got done versus planned, name estimates that "
            "drifted, ask me to log time on tasks without it (log_time) and to mark finished "
            "ones (complete_task), and suggest the first block of tomorrow."
        )

    @server.prompt(
        name="prepare_client_meeting",
        title="Prepare for a client meeting",
        description="A briefing from the client's facts and recent memories",
    )
    async def prepare_client_meeting(
        # Prompt arguments arrive as text; validated (FastMCP's validate_call) into the
        # API's bounds, so "abc" or 100,000 digits are refused naming the argument.
        client_id: IntId,
        topic: Annotated[str, Field(max_length=2000), AfterValidator(check_text)] = "",
        ctx: Context | None = None,  # type: ignore[type-arg]
    ) -> str:
        assert ctx is not None
        api = resolve(ctx)
        cid = client_id
        # for_client: a fact another client holds about this one is that other's.
        facts = await api.get(
            "/api/v1/memory/facts", subject_type="client", subject_id=str(cid), for_client=cid
        )
        recent = await api.get(
            "/api/v1/memory/recall",
            query=topic or "meeting notes decisions open questions",
            client_id=cid,
            k=10,
            floor="false",  # a listing of the client's recent memories, not a question
        )
        fact_lines = "\n".join(fact_line(f) for f in facts) or "none recorded"
        return (
            f"Prepare me for a meeting with client {cid}"
            + (f" about {topic}" if topic else "")
            + ". Give a short briefing: who they are and what they prefer, what happened "
            "recently, open questions, and three things to ask. Cite ids.\n\n"
            f"Facts about the client:\n{fact_lines}\n\n"
            f"Recent memories:\n{hits_text(recent['results'], await api.zone())}"
        )
