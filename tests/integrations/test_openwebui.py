"""The Open WebUI tools file, loaded the way Open WebUI loads it (front matter, requirements,
exec as a module, `Tools()`, valves) and every method called against a real Almanac."""

from __future__ import annotations

import inspect
import re
import sys
import types
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any, get_type_hints

import httpx
import pytest
from packaging.requirements import Requirement
from pydantic import Field, create_model

from almanac.state import AppState
from tests.live_server import LiveServer, free_port
from tests.mcp.helpers import has_route, import_workflows

TOOLS_FILE = Path(__file__).resolve().parents[2] / "integrations/openwebui/almanac_tools.py"
METHODS = {
    "create_plan", "approve_plan", "schedule_tasks", "query_memory", "remember", "agenda",
    "complete_task", "reflect_daily",
}  # fmt: skip


def front_matter(content: str) -> dict[str, str]:
    """Open WebUI's rule: a module docstring opening on line 1 with `key: value` lines."""
    lines = content.splitlines()
    if not lines or lines[0].strip() != '"""':
        return {}
    found = {}
    for line in lines[1:]:
        if '"""' in line:
            break
        match = re.match(r"^\s*([a-z_]+):\s*(.*)\s*$", line, re.IGNORECASE)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def load_tools() -> tuple[Any, dict[str, str]]:
    content = TOOLS_FILE.read_text()
    meta = front_matter(content)
    module = types.ModuleType("tool_almanac_test")
    sys.modules[module.__name__] = module
    module.__dict__["__file__"] = str(TOOLS_FILE)
    exec(compile(content, str(TOOLS_FILE), "exec"), module.__dict__)
    return module.Tools(), meta


def tool_spec(method: Any) -> dict[str, Any]:
    """Like Open WebUI: description before the :param lines, one field per non-dunder
    parameter described by its :param line, types from the annotations."""
    doc = inspect.getdoc(method) or ""
    params = dict(re.findall(r"^:param (\w+):\s*(.+)$", doc, re.MULTILINE))
    hints = get_type_hints(method)
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(method).parameters.items():
        if name.startswith("__"):
            continue
        assert name in params, f"{method.__name__}: :param {name} is not documented"
        default = p.default if p.default is not p.empty else ...
        fields[name] = (hints[name], Field(default, description=params[name]))
    model = create_model(method.__name__, **fields)
    return {
        "name": method.__name__,
        "description": doc.split(":param")[0].strip(),
        "parameters": model.model_json_schema(),
    }


class Events:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.items.append(event)


def test_front_matter_requirements_are_installable_and_specs_build() -> None:
    tools, meta = load_tools()
    assert meta["title"] == "Almanac" and meta["requirements"]
    for raw in meta["requirements"].split(","):
        req = Requirement(raw.strip())
        assert version(req.name) in req.specifier, f"{req} not satisfied"
    public = {n for n, m in inspect.getmembers(tools, inspect.ismethod) if not n.startswith("_")}
    assert public == METHODS
    for name in METHODS:
        spec = tool_spec(getattr(tools, name))
        assert spec["description"], name
        assert all("description" in p for p in spec["parameters"]["properties"].values())
    schedule = tool_spec(tools.schedule_tasks)["parameters"]
    assert (
        schedule["required"] == ["plan_id"] and schedule["properties"]["apply"]["default"] is False
    )
    assert {"api_key", "client_id"} <= set(tools.UserValves.model_fields)


async def test_every_method_against_a_real_almanac(
    live_server: LiveServer, committed_state: AppState
) -> None:
    import_workflows(live_server)
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=live_server.url, api_key=live_server.key)
    user = {"id": "u1", "valves": tools.UserValves(client_id=7)}
    tag = uuid.uuid4().hex[:8]
    events = Events()

    out = await tools.remember(f"Acme prefers calls after 3 pm ({tag})", __user__=user,
                               __event_emitter__=events)  # fmt: skip
    event_id = int(re.fullmatch(r"Remembered \(#(\d+)\)\.", out).group(1))  # type: ignore[union-attr]
    stored = httpx.get(f"{live_server.url}/api/v1/memory/events/{event_id}",
                       headers=live_server.headers).json()  # fmt: skip
    assert stored["client_id"] == 7 and stored["event_source"] == "openwebui"  # user valve used
    assert events.items[0]["data"]["done"] is False and events.items[-1]["data"]["done"] is True

    out = await tools.query_memory(f"calls {tag}", __user__=user)
    assert f"#{event_id} event" in out

    out = await tools.create_plan("Run a marketing audit for Acme", __user__=user,
                                  __event_emitter__=events)  # fmt: skip
    plan_id = int(re.match(r"Draft plan #(\d+)", out).group(1))  # type: ignore[union-attr]
    assert "LLM used: no" in out and f"approve_plan(plan_id={plan_id})" in out

    out = await tools.approve_plan(plan_id, __user__=user)
    task_id = int(re.search(r"tasks #(\d+)", out).group(1))  # type: ignore[union-attr]

    out = await tools.schedule_tasks(plan_id, __user__=user)
    assert out.startswith("Preview") and "apply=true" in out
    run_id = int(re.search(r"run_id=(\d+)", out).group(1))  # type: ignore[union-attr]
    out = await tools.schedule_tasks(plan_id, apply=True, run_id=run_id, __user__=user)
    assert out.startswith("Scheduled")

    out = await tools.agenda(days=14, __user__=user)
    assert "[block " in out

    out = await tools.complete_task(task_id, __user__=user)
    if has_route(live_server, "PATCH", "/api/v1/planner/tasks/{task_id}"):
        assert out.startswith(f"Task #{task_id} done")
    else:  # the task endpoints are being built elsewhere: a readable message, no traceback
        assert out.startswith("Almanac could not do that (404)")

    out = await tools.reflect_daily(__user__=user)
    assert out.startswith("Reflection #")

    out = await tools.create_plan("ab", __user__=user)
    assert out.startswith("Almanac could not do that (422)") and "intent" in out


async def test_a_server_that_is_down_or_a_bad_key_reads_as_a_message(
    live_server: LiveServer,
) -> None:
    tools, _ = load_tools()
    events = Events()
    tools.valves = tools.Valves(almanac_url=f"http://127.0.0.1:{free_port()}", api_key="k")
    out = await tools.agenda(__event_emitter__=events)
    assert out.startswith("Almanac is not reachable at http://127.0.0.1:")
    assert "almanac_url" in out and events.items[-1]["data"]["done"] is True
    tools.valves = tools.Valves(almanac_url=live_server.url, api_key="not-a-key")
    out = await tools.query_memory("anything")
    assert out.startswith("Almanac rejected the API key")
    reader = live_server.create_key(f"owui-read-{uuid.uuid4().hex[:6]}", "read")
    tools.valves = tools.Valves(almanac_url=live_server.url, api_key="")
    user = {"valves": tools.UserValves(api_key=reader)}  # the user's own key is used
    assert not (await tools.query_memory("anything", __user__=user)).startswith("Almanac")
    out = await tools.remember("read keys cannot write", __user__=user)
    assert out.startswith("This Almanac API key may not do that")


@pytest.mark.parametrize(
    ("method", "args", "name"),
    [
        ("query_memory", {"query": "y" * 100_000}, "query"),  # httpx: InvalidURL
        ("query_memory", {"query": "x", "limit": "many"}, "limit"),  # min(): TypeError
        ("query_memory", {"query": "x", "limit": None}, "limit"),
        ("remember", {"content": "x", "importance": float("nan")}, "importance"),  # JSON
        ("agenda", {"days": "a week"}, "days"),
        ("complete_task", {"task_id": "1\x00"}, "task_id"),  # httpx: InvalidURL
        ("complete_task", {"task_id": "1/../../memory/facts/2"}, "task_id"),  # another route
        ("approve_plan", {"plan_id": "y" * 100_000}, "plan_id"),
    ],
)
async def test_arguments_a_model_gets_wrong_are_named_and_send_nothing(
    method: str, args: dict[str, Any], name: str
) -> None:
    tools, _ = load_tools()
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"start": "2026-12-01T00:00:00Z", "events": []})

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(record), base_url=url
    )
    out = await getattr(tools, method)(**args)
    assert out.startswith(f"Almanac could not do that: {name} must be"), out
    assert [r.url.path for r in sent if r.url.path != "/api/v1/scheduler/calendar"] == []
