"""Time tools: schedule, agenda, move_block, list_tasks, complete_task, log_time."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from almanac.clock import clock_span
from almanac.mcp.api import Api, ApiProblem, ClientRef, RowId, ShortText, clip, result, segment
from almanac.models.status import TaskStatus
from almanac.types import AwareDatetime, BigId, BoundedDate

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]
TaskId = Annotated[RowId, Field(description="The task's id (from approve_plan)")]


def _at(value: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def when(value: str, zone: ZoneInfo | None) -> str:
    """An instant on the user's clock ("2026-12-07 09:00"; UTC without a zone); the API's
    offset was shown as sent, a day off the user's for a late evening west of Greenwich."""
    at = _at(value)
    if at is None:
        return value[:16].replace("T", " ")
    return f"{at.astimezone(zone or UTC):%Y-%m-%d %H:%M}"


def span(start: str, end: str, zone: ZoneInfo | None, all_day: bool = False) -> str:
    """Its day and `clock_span`, as the CLI shows it: "2026-12-07 01:00-Wed 09 Dec 01:15"
    (the end's text sliced from the ISO read "01:00-01:14" for two nights)."""
    first, last = _at(start), _at(end)
    if first is None or last is None:
        return f"{start[:16].replace('T', ' ')}–{end[:16].replace('T', ' ')}"
    tz = zone or ZoneInfo("UTC")
    return f"{first.astimezone(tz):%Y-%m-%d} {clock_span(first, last, tz, all_day)}"


def zone_note(zone: ZoneInfo | None) -> str:
    return f"times in {zone.key}" if zone is not None else "times in UTC"


def schedule_zone(out: dict[str, Any]) -> ZoneInfo | None:
    """The zone the schedule was solved in (the user's), None if the API sent none."""
    try:
        return ZoneInfo(str(out["timezone"])) if out.get("timezone") else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def blocks_text(out: dict[str, Any], zone: ZoneInfo | None = None) -> list[str]:
    return [
        f"{b['almanac_id']}: {span(b['start'], b['end'], zone)} {clip(b['title'], 80)}"
        for b in out.get("blocks", [])
    ]


def elsewhere_text(out: dict[str, Any], zone: ZoneInfo | None = None) -> list[str]:
    """Other plans' blocks the write moves or adds (written with it, so shown with it)."""
    lines = []
    for m in out.get("moves", []):
        if m.get("plan_id") != out.get("plan_id"):
            to = (
                span(m["to_start"], m["to_end"], zone)
                if m.get("to_start") and m.get("to_end")
                else "off the calendar"
            )
            to = ", ".join([to] + [span(a["start"], a["end"], zone) for a in m.get("also_to", [])])
            lines.append(
                f"moves plan {m['plan_id']} {clip(m['title'], 80)}: "
                f"{span(m['from_start'], m['from_end'], zone)} -> {to} ({clip(m['why'], 120)})"
            )
    lines += [
        f"adds plan {b['plan_id']} {b['almanac_id']}: {span(b['start'], b['end'], zone)} "
        f"{clip(b['title'], 80)}"
        for b in out.get("placed", [])
    ]
    return lines


def _placement(out: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((b["almanac_id"], b["start"], b["end"]) for b in out.get("blocks", []))


def agenda_text(out: dict[str, Any], zone: ZoneInfo | None = None) -> str:
    lines = []
    for e in out["events"]:
        # Free time (a declined invitation, an event marked free) is no busy time: the
        # assistant told the user they were busy then (the CLI's agenda says "free").
        kind = "block" if e["almanac"] else ("busy" if e.get("busy", True) else "free")
        at = span(e["start"], e["end"], zone, bool(e.get("all_day")))
        lines.append(f"{at} [{kind} {e['id']}] {clip(e['title'], 80)}")
    return "\n".join([f"{zone_note(zone)}:", *lines]) if lines else "nothing scheduled"


def task_line(t: dict[str, Any], zone: ZoneInfo | None = None) -> str:
    start = t.get("scheduled_start")
    at = f" at {when(start, zone)} {zone.key if zone else 'UTC'}" if start else ""
    est = f", {t['estimate_hours']:g} h" if t.get("estimate_hours") is not None else ""
    return f"task #{t['id']} [{t.get('status', '?')}] {clip(t['title'], 90)}{est}{at}"


def outcome_lines(out: dict[str, Any]) -> list[str]:
    """What else a task write did and said, as the CLI says it: future blocks fitted to
    the hours left, a calendar write queued (not in the calendar yet), a note, warnings."""
    changes = out.get("blocks") or []
    lines = [
        f"{change} {sum(1 for c in changes if c.get('change') == change)} future block(s)"
        for change in ("freed", "shortened")
        if any(c.get("change") == change for c in changes)
    ]
    calendar = out.get("calendar") or {}
    if calendar.get("pending"):
        lines.append(f"calendar not updated yet: {clip(calendar.get('detail') or 'queued', 300)}")
    if out.get("note"):
        lines.append(f"note: {clip(out['note'], 300)}")
    return lines + [f"warning: {clip(w, 300)}" for w in out.get("warnings") or []]


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


def _caller(headers: Mapping[str, str] | Sequence[tuple[bytes, bytes]]) -> str:
    """Whose preview: the key the API reads (`auth.deps.credentials`), a Bearer key, else
    X-API-Key. Another scheme (a proxy's Basic login) is shared by every key behind it."""
    given = httpx.Headers(headers)  # names in any case; raw pairs as /mcp passes them
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
        plan_id: RowId,
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
        if out.get("replayed"):  # the preview was written before: nothing was written now
            verb = "already applied (nothing written now):"
        lines = [f"{verb} run #{out['run_id']} for plan #{plan_id}: {len(out['blocks'])} blocks"]
        if out.get("replayed"):  # moved or freed since, they read as the calendar now
            lines.append("the blocks as that run wrote them; agenda shows the calendar now")
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
        zone = schedule_zone(out) or await api.zone()
        shown = blocks_text(out, zone) + elsewhere_text(out, zone)
        lines += [f"{zone_note(zone)}:", *shown] if shown else []
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
        api = resolve(ctx)
        out = await api.calendar(days, start_date)
        return result(agenda_text(out, await api.zone()), out)

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
        api = resolve(ctx)
        out = await api.call("PUT", path, json=body, named={"event_id": "block_id"})
        b, zone = out["block"], await api.zone()
        moved = f"moved {b['almanac_id']} to {span(b['start'], b['end'], zone)}"
        return result(f"{moved} ({zone_note(zone)})", out)

    @server.tool(
        description="List tasks (from approved plans), by plan, client or status.",
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    async def list_tasks(
        ctx: Context,  # type: ignore[type-arg]
        plan_id: RowId | None = None,
        client_id: ClientRef | None = None,
        status: TaskStatus | None = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> CallToolResult:
        api = resolve(ctx)
        out = await api.get(
            "/api/v1/planner/tasks",
            plan_id=plan_id,
            client_id=client_id,
            status=status,
            limit=limit,
        )
        items = out["items"] if isinstance(out, dict) and "items" in out else out
        zone = await api.zone() if any(t.get("scheduled_start") for t in items) else None
        return result("\n".join(task_line(t, zone) for t in items) or "no tasks", out)

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
        api = resolve(ctx)
        out = await api.call("PATCH", f"/api/v1/planner/tasks/{task_id}", json=body)
        task = out.get("task", out)
        zone = await api.zone() if task.get("scheduled_start") else None
        lines = [f"done: {task_line(task, zone)}", *outcome_lines(out)]
        return result("\n".join(lines), out)

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
            ShortText | None, Field(max_length=200, description="Makes a retried call count once")
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
        total = out.get("actual_hours")
        extra = f" ({total:g} h in all)" if isinstance(total, int | float) else ""
        said = f"logged {hours:g} h on task #{task_id}{extra}"
        if out.get("duplicate"):  # the retry counted nothing: "logged" read as counted twice
            said = f"already logged (same idempotency key), nothing added: task #{task_id}{extra}"
        return result("\n".join([said, *outcome_lines(out)]), out)
