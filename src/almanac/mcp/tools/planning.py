"""Planning tools: plan, revise_plan, approve_plan, list_plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from almanac.mcp.api import Api, ClientRef, RowId, clip, result
from almanac.ontology.sop import MAX_PLAN_TASKS
from almanac.planner.schemas import IdempotencyKey
from almanac.types import Deadline

Resolver = Callable[[Context], Api]  # type: ignore[type-arg]
PlanId = Annotated[RowId, Field(description="The plan's id")]
TaskKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Status = Literal["draft", "approved", "scheduled", "active", "completed", "cancelled"]


class TaskEdit(BaseModel):
    """Changes to one task of a draft; fields left out stay as they are."""

    model_config = ConfigDict(allow_inf_nan=False)

    id: TaskKey
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    estimate_hours: Annotated[float, Field(gt=0, le=200)] | None = None
    depends_on: Annotated[list[TaskKey], Field(max_length=50)] | None = None
    billable: bool | None = None
    priority: Annotated[int, Field(ge=1, le=4)] | None = None


class NewTask(BaseModel):
    """A task to add to a draft (to the last step unless `step_id` names one)."""

    model_config = ConfigDict(allow_inf_nan=False)

    id: TaskKey
    title: Annotated[str, Field(min_length=1, max_length=500)]
    estimate_hours: Annotated[float, Field(gt=0, le=200)]
    depends_on: Annotated[list[TaskKey], Field(max_length=50)] = Field(default_factory=list)
    billable: bool = False
    priority: Annotated[int, Field(ge=1, le=4)] = 2
    step_id: TaskKey | None = None


def plan_text(plan: dict[str, Any], *, tasks: bool = True) -> str:
    sop = plan["sop"] or {"steps": []}  # None: the stored SOP is unreadable (sop_error)
    count = sum(len(s["tasks"]) for s in sop["steps"])
    llm = plan.get("llm") or {}
    head = (
        f"plan #{plan['id']} v{plan['version']} [{plan['status']}] {plan['plan_title']}: "
        f"{count} tasks, {plan['total_hours']:g} h"
    )
    if plan.get("source"):
        head += f"; source {plan['source']}, LLM used: {'yes' if llm.get('used') else 'no'}"
    lines = [head]
    if tasks:
        for step in sop["steps"]:
            for t in step["tasks"]:
                deps = f" after {', '.join(t['depends_on'])}" if t.get("depends_on") else ""
                lines.append(
                    f"- {t['id']}: {clip(t['title'], 90)} ({t['estimate_hours']:g} h){deps}"
                )
    if plan.get("sop_error"):
        lines.append(f"sop unreadable: {clip(plan['sop_error'], 300)}")
    lines += [f"note: {clip(n, 200)}" for n in plan.get("notes", [])[:3]]
    lines += [f"degraded: {d}" for d in plan.get("degraded", [])]
    return "\n".join(lines)


def revised_sop(
    sop: dict[str, Any], edits: list[TaskEdit], add: list[NewTask], remove: list[str]
) -> dict[str, Any]:
    """The draft's SOP with the edits applied (the API checks the result as a whole)."""
    by_id = {t["id"]: t for s in sop["steps"] for t in s["tasks"]}
    for key in [e.id for e in edits] + remove:
        if key not in by_id:
            raise ToolError(f"task {key!r} is not in this plan (tasks: {', '.join(by_id)})")
    for edit in edits:
        by_id[edit.id].update(edit.model_dump(exclude_none=True, exclude={"id"}))
    removed = set(remove)
    kept = {k: _through(t.get("depends_on", []), removed, by_id) for k, t in by_id.items()}
    for step in sop["steps"]:
        step["tasks"] = [t for t in step["tasks"] if t["id"] not in removed]
        for t in step["tasks"]:
            t["depends_on"] = kept[t["id"]]
    for new in add:
        steps = [s for s in sop["steps"] if s["id"] == new.step_id] or sop["steps"][-1:]
        if new.step_id and steps[0]["id"] != new.step_id:
            raise ToolError(f"step {new.step_id!r} is not in this plan")
        steps[0]["tasks"].append(new.model_dump(exclude={"step_id"}))
    sop["steps"] = [s for s in sop["steps"] if s["tasks"]]
    return sop


def _through(deps: list[str], removed: set[str], by_id: dict[str, Any]) -> list[str]:
    """`deps` with each removed task replaced by what it waited on, so removing b from
    a -> b -> c keeps c after a; each once, in order."""
    out: list[str] = []
    stack, seen = list(reversed(deps)), set()
    while stack:
        dep = stack.pop()
        if dep not in removed:
            if dep not in out:
                out.append(dep)
        elif dep not in seen:
            seen.add(dep)
            stack.extend(reversed(by_id[dep].get("depends_on", [])))
    return out


def register(server: FastMCP, resolve: Resolver) -> None:
    @server.tool(
        description="Turn an intent (e.g. 'marketing audit for Acme by Friday') into a draft "
        "plan of tasks with estimates, from the workflow library or an LLM; says which and "
        "whether an LLM was used. Approve it with approve_plan."
    )
    async def plan(
        ctx: Context,  # type: ignore[type-arg]
        intent: Annotated[
            str, Field(min_length=3, max_length=4000, description="What to get done")
        ],
        client_id: ClientRef | None = None,
        deadline: Annotated[Deadline | None, Field(description="ISO 8601 with offset")] = (None),
        workflow_id: Annotated[RowId | None, Field(description="Force a workflow")] = None,
        context: Annotated[
            str | None, Field(max_length=20_000, description="Anything else to consider")
        ] = None,
        estimates: Annotated[
            Literal["calibrated", "library"] | None,
            Field(description="calibrated (learnt from past runs, the default) or library"),
        ] = None,
        idempotency_key: Annotated[
            IdempotencyKey | None,
            Field(description="Makes a retried call return the first plan, not a second one"),
        ] = None,
    ) -> CallToolResult:
        body = {
            "intent": intent,
            "client_id": client_id,
            "deadline": deadline.isoformat() if deadline else None,
            "workflow_id": workflow_id,
            "context": context,
            "idempotency_key": idempotency_key,
        }
        if estimates is not None:  # else the server's setting
            body["estimates"] = estimates
        out = await resolve(ctx).post("/api/v1/planner/plan", json=body)
        return result(plan_text(out), out)

    @server.tool(
        description="Edit a draft plan's tasks: change (title, estimate_hours, depends_on, "
        "billable, priority), add or remove tasks, or rename it. The previous version is kept."
    )
    async def revise_plan(
        ctx: Context,  # type: ignore[type-arg]
        plan_id: PlanId,
        edit: Annotated[
            list[TaskEdit] | None,
            Field(max_length=MAX_PLAN_TASKS, description="Changes by task id"),
        ] = None,
        add: Annotated[
            list[NewTask] | None, Field(max_length=MAX_PLAN_TASKS, description="New tasks")
        ] = None,
        remove: Annotated[
            list[TaskKey] | None,
            Field(
                max_length=MAX_PLAN_TASKS,
                description="Task ids to drop; what waited on one then waits on what it waited on",
            ),
        ] = None,
        title: Annotated[str | None, Field(min_length=1, max_length=500)] = None,
        note: Annotated[str | None, Field(max_length=2000, description="Why")] = None,
    ) -> CallToolResult:
        api = resolve(ctx)
        current = await api.get(f"/api/v1/planner/plans/{plan_id}")
        body: dict[str, Any] = {"version": current["version"], "note": note}
        if edit or add or remove:
            if current["sop"] is None:
                raise ToolError(f"plan {plan_id}'s SOP is unreadable: {current['sop_error']}")
            body["sop"] = revised_sop(current["sop"], edit or [], add or [], remove or [])
        if title:
            body["plan_title"] = title
        if len(body) == 2:
            raise ToolError("nothing to change: give edit, add, remove or title")
        out = await api.call("PUT", f"/api/v1/planner/plans/{plan_id}", json=body)
        if out["version"] == current["version"]:
            said = f"Nothing changed: plan {plan_id} already reads so (version {out['version']})."
            return result(f"{said}\n{plan_text(out)}", out)
        return result(plan_text(out), out)

    @server.tool(
        description="Approve a draft plan: it becomes a process template and real tasks "
        "(their ids are returned), ready for schedule."
    )
    async def approve_plan(ctx: Context, plan_id: PlanId) -> CallToolResult:  # type: ignore[type-arg]
        out = await resolve(ctx).post(f"/api/v1/planner/plans/{plan_id}/approve")
        ids = ", ".join(f"#{i}" for i in out["task_ids"])
        return result(f"plan #{plan_id} approved; tasks {ids}", out)

    @server.tool(
        description="List plans, newest first, optionally by status or client.",
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    async def list_plans(
        ctx: Context,  # type: ignore[type-arg]
        status: Status | None = None,
        client_id: ClientRef | None = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> CallToolResult:
        out = await resolve(ctx).get(
            "/api/v1/planner/plans", status=status, client_id=client_id, limit=limit
        )
        lines = [plan_text(p, tasks=False).splitlines()[0] for p in out["items"]]
        return result("\n".join(lines) or "no plans", out)
