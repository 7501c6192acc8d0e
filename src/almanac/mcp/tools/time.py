"""Time tools: schedule, agenda, move_block, list_tasks, complete_task, log_time."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from almanac.mcp.api import Api, ApiProblem, ShortText, clip, result, segment
from almanac.models.status import TaskStatus
from almanac.types import AwareDatetime, BigId, BoundedDate

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]
TaskId = Annotated[int, Field(ge=1, description="The task's id (from approve_plan)")]


def _hm(value: str) -> str:
    return value[:16].replace("T", " ")


def blocks_text(out: dict[str, Any]) -> list[str]:
    return [
        f"{b['almanac_id']}: {_hm(b['start'])}–{b['end'][11:16]} {clip(b['title'], 80)}"
        for b in out.get("blocks", [])
    ]


def elsewhere_text(out: dict[str, Any]) -> list[str]:
    """Other plans' blocks the write moves or adds (written with it, so shown with it)."""
    lines = []
    for m in out.get("moves", []):
        if m.get("plan_id") != out.get("plan_id"):
            to = _hm(m["to_start"]) if m.get("to_start") else "off the calendar"
            lines.append(
                f"moves plan {m['plan_id']} {clip(m['title'], 80)}: {_hm(m['from_start'])} -> "
                f"{to} ({clip(m['why'], 120)})"
            )
    lines += [
        f"adds plan {b['plan_id']} {b['almanac_id']}: {_hm(b['start'])}–{b['end'][11:16]} "
        f"{clip(b['title'], 80)}"
        for b in out.get("placed", [])
    ]
    return lines


def _placement(out: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((b["almanac_id"], b["start"], b["end"]) for b in out.get("blocks", []))


def agenda_text(out: dict[str, Any]) -> str:
    lines = []
    for e in out["events"]:
        kind = "block" if e["almanac"] else "busy"
        lines.append(
            f"{_hm(e['start'])}–{e['end'][11:16]} [{kind} {e['id']}] {clip(e['title'], 80)}"
        )
    return "\n".join(lines) or "nothing scheduled"


def task_line(t: dict[str, Any]) -> str:
    when = f" at {_hm(t['scheduled_start'])}" if t.get("scheduled_start") else ""
    est = f", {t['estimate_hours']:g} h" if t.get("estimate_hours") is not None else ""
    return f"task #{t['id']} [{t.get('status', '?')}] {clip(t['title'], 90)}{est}{when}"


# How an API that predates `run_id` refuses it (its bodies forbid unknown fields).
UNKNOWN_FIELD = "Extra inputs are not permitted"


async def schedule_call(api: Api, body: dict[str, Any], run_id: int | None) -> Any:
    """POST /schedule; with `run_id` the API writes exactly that preview (or answers 409
    with what changed). An API without `run_id` re-solves instead (a 422 wrote nothing);
    a run_id the API knows but refuses is an error, never a fresh schedule written."""
    if run_id is None:
        return await api.post("/api/v1/scheduler/schedule", json=body)
    try:
        return await api.post("/api/v1/scheduler/schedule", json={**body, "run_id": run_id})
    except ApiProblem as problem:
        unknown = any(
            e.get("field") == "run_id" and e.get("message") == UNKNOWN_FIELD for e in problem.errors
        )
        if problem.status != 422 or not unknown:
            raise
        return await api.post("/api/v1/scheduler/schedule", json=body)


def _caller(headers: Mapping[str, str]) -> str:
    """Whose preview: the key the API reads (`auth.deps.credentials`), a Bearer key, else
    X-API-Key. Another scheme (a proxy's Basic login) is shared by every key behind it."""
    given = {name.lower(): value for name, value in headers.items()}
    auth = given.get("authorization") or ""
    if auth.partition(" ")[0].lower() == "bearer":
        return auth
    return given.get("x-api-key") or auth


# Previews remembered per server, newest kept: one per (caller, plan) grew with every plan
# previewed and never applied, for as long as the server ran.
PREVIEWS_KEPT = 256


def register(server: FastMCP, resolve: Resolver) -> None:
    # The last preview per (caller, plan), so applying can say whether it kept the preview.
    previews: OrderedDict[tuple[str, int], tuple[int, list[tuple[str, str, str]]]] = OrderedDict()

    @server.tool(
        description="Place an approved plan's tasks into the calendar around busy time. "
        "By default a dry run: it shows the proposed blocks and a run id. Call again with "
        "apply=true (and that run_id) to write exactly the previewed schedule."
    )
    async def schedule(
        ctx: Context,  # type: ignore[type-arg]
        plan_id: Annotated[int, Field(ge=1)],
        apply: Annotated[bool, Field(description="Write it (after a preview)")] = False,
        run_id: Annotated[
            BigId | None, Field(description="The preview to write (default: the last one)")
        ] = None,
        start_date: Annotated[
            BoundedDate | None,
            Field(description="Default: today; applying a preview writes the preview's"),
        ] = None,
        horizon_days: Annotated[
            int | None,
            Field(ge=1, le=60, description="Default: 14; applying a preview writes the preview's"),
        ] = None,
    ) -> CallToolResult:
        api = resolve(ctx)
        # Only what the caller states: the API refuses (422) a window that differs from the
        # preview applied, so a default must not be sent in its place.
        body: dict[str, Any] = {"plan_id": plan_id, "dry_run": not apply}
        if start_date is not None:
            body["start_date"] = start_date.isoformat()
        if horizon_days is not None:
            body["horizon_days"] = horizon_days
        # A digest, so the remembered previews do not keep callers' keys in memory.
        caller = hashlib.sha256(_caller(api.headers).encode()).hexdigest()
        slot = (caller, plan_id)
        if apply and run_id is None and slot in previews:
            run_id = previews[slot][0]
        out = await schedule_call(api, body, run_id if apply else None)
        verb = "applied" if out["applied"] else "preview"
        lines = [f"{verb} run #{out['run_id']} for plan #{plan_id}: {len(out['blocks'])} blocks"]
        if not apply:
            previews[slot] = (out["run_id"], _placement(out))
            previews.move_to_end(slot)
            while len(previews) > PREVIEWS_KEPT:
                previews.popitem(last=False)
            lines[0] += (
                f"; call schedule again with apply=true (run_id={out['run_id']}) to write it"
            )
        elif slot in previews:
            preview_id, placed = previews.pop(slot)
            if run_id == preview_id:  # another run_id was not the preview remembered here
                same = placed == _placement(out)
                lines.append(
                    f"same placement as preview run #{preview_id}"
                    if same
                    else f"the calendar changed since preview run #{preview_id}: placement differs"
                )
        lines += blocks_text(out)
        lines += elsewhere_text(out)
        lines += [f"unplaced {u['task_key']}: {u['cause']}" for u in out.get("unplaced", [])]
        lines += [f"warning: {w}" for w in out.get("warnings", [])]
        return result("\n".join(lines), out)

    @server.tool(
        description="The agenda: Almanac's blocks and other busy events, today or the next N days.",
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    async def agenda(
        ctx: Context,  # type: ignore[type-arg]
        days: Annotated[int, Field(ge=1, le=31)] = 1,
        start_date: Annotated[BoundedDate | None, Field(description="Default: today")] = None,
    ) -> CallToolResult:
        out = await resolve(ctx).calendar(days, start_date)
        return result(agenda_text(out), out)

    @server.tool(
        description="Move one of Almanac's blocks (its id from agenda or schedule) to a new "
        "time; it is pinned so replanning keeps it there."
    )
    async def move_block(
        ctx: Context,  # type: ignore[type-arg]
        block_id: ShortText,
        start: Annotated[AwareDatetime, Field(description="ISO 8601 with offset")],
        end: Annotated[AwareDatetime, Field(description="ISO 8601 with offset")],
        force: Annotated[
            bool, Field(description="Pin it even where it conflicts (the API lists conflicts)")
        ] = False,
    ) -> CallToolResult:
        body: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
        if force:
            body["force"] = True
        path = f"/api/v1/scheduler/calendar/{segment(block_id)}"
        out = await resolve(ctx).call("PUT", path, json=body)
        b = out["block"]
        return result(f"moved {b['almanac_id']} to {_hm(b['start'])}–{b['end'][11:16]}", out)

    @server.tool(
        description="List tasks (from approved plans), by plan, client or status.",
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    async def list_tasks(
        ctx: Context,  # type: ignore[type-arg]
        plan_id: Annotated[int | None, Field(ge=1)] = None,
        client_id: Annotated[int | None, Field(ge=1)] = None,
        status: TaskStatus | None = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> CallToolResult:
        out = await resolve(ctx).get(
            "/api/v1/planner/tasks",
            plan_id=plan_id,
            client_id=client_id,
            status=status,
            limit=limit,
        )
        items = out["items"] if isinstance(out, dict) and "items" in out else out
        return result("\n".join(task_line(t) for t in items) or "no tasks", out)

    @server.tool(
        description="Mark a task done (its time counts in reflections; log hours with log_time); "
        "finished_at for work recorded after the fact."
    )
    async def complete_task(
        ctx: Context,  # type: ignore[type-arg]
        task_id: TaskId,
        finished_at: Annotated[
            AwareDatetime | None,
            Field(description="When it was finished, ISO 8601 with offset (default now)"),
        ] = None,
    ) -> CallToolResult:
        body: dict[str, Any] = {"status": "done"}
        if finished_at is not None:  # reflections count it done then, not today
            body["finished_at"] = finished_at.isoformat()
        out = await resolve(ctx).call("PATCH", f"/api/v1/planner/tasks/{task_id}", json=body)
        task = out.get("task", out)
        freed = out.get("released_blocks") or 0
        extra = f"; {freed} future blocks freed" if freed else ""
        return result(f"done: {task_line(task)}{extra}", out)

    @server.tool(
        description="Log hours actually spent on a task (feeds estimate calibration); "
        "ended_at for work recorded after the fact."
    )
    async def log_time(
        ctx: Context,  # type: ignore[type-arg]
        task_id: TaskId,
        hours: Annotated[float, Field(gt=0, le=24)],
        ended_at: Annotated[
            AwareDatetime | None,
            Field(description="When the work ended, ISO 8601 with offset (default now)"),
        ] = None,
        idempotency_key: Annotated[
            ShortText | None, Field(description="Makes a retried call count once")
        ] = None,
    ) -> CallToolResult:
        # Without ended_at, a day caught up on in the evening is all recorded as ending now
        # (the week's reflection puts it on the wrong day).
        when = ended_at.isoformat() if ended_at is not None else None
        body = {"hours": hours, "ended_at": when, "idempotency_key": idempotency_key}
        out = await resolve(ctx).post(
            f"/api/v1/planner/tasks/{task_id}/time",
            json={k: v for k, v in body.items() if v is not None},
        )
        total = out.get("actual_hours") if isinstance(out, dict) else None
        extra = f" ({total:g} h in all)" if isinstance(total, int | float) else ""
        return result(f"logged {hours:g} h on task #{task_id}{extra}", out)
