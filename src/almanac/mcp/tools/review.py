"""Review tools: reflect, patterns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from almanac.mcp.api import Api, clip, result
from almanac.types import BoundedDate

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]


def reflection_text(out: dict[str, Any]) -> str:
    report = out["report"]
    n = report.get("numbers", {})
    lines = [
        f"reflection #{out['id']} ({out['mode']}, {out['period_start']}–{out['period_end']}): "
        f"{n.get('tasks_planned', 0)} task{'' if n.get('tasks_planned') == 1 else 's'} "
        f"planned, {n.get('tasks_done', 0)} done, "
        f"{n.get('hours_actual', 0):g} h actual vs {n.get('hours_estimated', 0):g} h estimated "
        "for the tasks planned"
    ]
    if measured := n.get("done_tasks_measured"):
        lines[0] += (
            f"; the {measured} task(s) done with hours recorded: "
            f"{n.get('done_hours_worked', 0):g} h actual vs "
            f"{n.get('done_hours_estimated', 0):g} h estimated"
        )
    lines += [f"- {clip(r, 200)}" for r in report.get("recommendations", [])[:5]]
    if out.get("narrative"):
        lines.append(clip(out["narrative"], 600))
    return "\n".join(lines)


def register(server: FastMCP, resolve: Resolver) -> None:
    @server.tool(
        description="Reflect on a day or a week (default today): tasks done, estimate drift, "
        "slipped tasks, billable share and recommendations. Safe to repeat (one per period)."
    )
    async def reflect(
        ctx: Context,  # type: ignore[type-arg]
        mode: Literal["daily", "weekly"] = "daily",
        day: Annotated[
            BoundedDate | None, Field(description="A day in the period; default today")
        ] = (None),
    ) -> CallToolResult:
        out = await resolve(ctx).post(
            "/api/v1/observer/reflect",
            named={"date": "day"},
            mode=mode,
            date=day.isoformat() if day else None,
        )
        return result(reflection_text(out), out)

    @server.tool(
        description="Estimate drift per workflow: runs, mean variance, trend, and a suggested "
        "estimate.",
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    async def patterns(ctx: Context) -> CallToolResult:  # type: ignore[type-arg]
        out = await resolve(ctx).get("/api/v1/observer/patterns")
        lines = [
            f"workflow #{p['workflow_id']} {clip(p['workflow'], 60)}: {p['runs']} runs, "
            f"variance {p['mean_variance_pct'] if p['mean_variance_pct'] is not None else '–'}%, "
            f"{p['trend']}; suggested {p['suggested_estimate_hours'] or '–'} h"
            for p in out
        ]
        return result("\n".join(lines) or "no runs yet", out)
