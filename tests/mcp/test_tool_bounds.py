"""Each tool argument bounded as the REST field it is sent as: a tool schema looser than
the API's told an assistant a call was fine that the API then refused (a client id past
32 bits, a 50,000-character intent, an idempotency key with spaces)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from almanac.mcp.server import build_server
from almanac.memory.schemas import FactIn, FactsQuery, RecallQuery, RememberIn
from almanac.planner.schemas import PlanIn, PlanQuery, PlanUpdate
from almanac.scheduler.schemas import ScheduleIn
from almanac.tasks.schemas import TaskQuery, TimeIn

BOUNDS = ("maxLength", "minLength", "maximum", "minimum", "exclusiveMinimum", "exclusiveMaximum")
BOUNDS += ("pattern", "maxItems", "minItems")

# tool: (the REST model its call is sent as, {tool argument: REST field})
SENT_AS: dict[str, tuple[type[BaseModel], dict[str, str]]] = {
    "remember": (RememberIn, {"content": "content", "client_id": "client_id",
                              "session_id": "session_id", "event_type": "event_type",
                              "salience": "salience_score", "idempotency_key": "idempotency_key"}),
    "recall": (RecallQuery, {"query": "query", "k": "k", "client_id": "client_id",
                             "session_id": "session_id"}),
    "add_fact": (FactIn, {"subject_type": "subject_type", "subject_id": "subject_id",
                          "content": "content", "category": "category", "client_id": "client_id",
                          "salience": "salience_score"}),
    "get_facts": (FactsQuery, {"subject_type": "subject_type", "subject_id": "subject_id",
                               "limit": "limit", "for_client": "for_client"}),
    "plan": (PlanIn, {"intent": "intent", "client_id": "client_id", "workflow_id": "workflow_id",
                      "context": "context", "idempotency_key": "idempotency_key"}),
    "revise_plan": (PlanUpdate, {"title": "plan_title", "note": "note"}),
    "list_plans": (PlanQuery, {"client_id": "client_id", "limit": "limit"}),
    "list_tasks": (TaskQuery, {"plan_id": "plan_id", "client_id": "client_id", "limit": "limit"}),
    "log_time": (TimeIn, {"hours": "hours", "idempotency_key": "idempotency_key"}),
    "schedule": (ScheduleIn, {"plan_id": "plan_id", "run_id": "run_id",
                              "horizon_days": "horizon_days"}),
}  # fmt: skip

# Where the tool is stricter, and why: the API's client 0 filters for no client's tasks,
# which a tool's caller names by leaving client_id out.
STRICTER = {("list_tasks", "client_id"): {"minimum": 1}}


def bounds(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A field's bounds, through a reference or its one non-null option."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return bounds(defs[ref.rsplit("/", 1)[-1]], defs)
    for option in schema.get("anyOf") or ():
        if option.get("type") != "null":
            return bounds(option, defs)
    found = {k: schema[k] for k in BOUNDS if k in schema}
    if schema.get("type") == "array" and "items" in schema:
        found["items"] = bounds(schema["items"], defs)
    return found


@pytest.mark.parametrize("tool", sorted(SENT_AS))
async def test_tool_arguments_are_bounded_as_the_api_bounds_them(tool: str) -> None:
    listed = {t.name: t for t in await build_server(lambda ctx: None).list_tools()}
    schema = listed[tool].inputSchema
    model, fields = SENT_AS[tool]
    rest = model.model_json_schema()
    for argument, field in fields.items():
        mine = bounds(schema["properties"][argument], schema.get("$defs") or {})
        theirs = bounds(rest["properties"][field], rest.get("$defs") or {})
        theirs |= STRICTER.get((tool, argument), {})
        assert mine == theirs, f"{tool}.{argument} is bounded {mine}, the API's {field} {theirs}"
