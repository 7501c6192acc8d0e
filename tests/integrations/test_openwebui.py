"""The Open WebUI tools file, loaded the way Open WebUI loads it (front matter, requirements,
exec as a module, `Tools()`, valves) and every method called against a real Almanac."""

from __future__ import annotations

import inspect
import json
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
                       headers=live_server.headers, timeout=60).json()  # fmt: skip
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
    # The API's refusal names the argument the model sent (it named `date`).
    out = await tools.reflect_daily(day="1950-01-01", __user__=user)
    assert out.startswith("Almanac could not do that (422): day: must not be more than"), out

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


def recording_tools() -> tuple[Any, list[httpx.Request]]:
    """The tools on a transport that records each request and answers an empty agenda."""
    tools, _ = load_tools()
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"start": "2026-12-01T00:00:00Z", "events": []})

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(record), base_url=url
    )
    return tools, sent


@pytest.mark.parametrize(
    ("method", "args", "name"),
    [
        ("query_memory", {"query": "y" * 100_000}, "query"),  # httpx: InvalidURL
        ("query_memory", {"query": "x", "limit": "many"}, "limit"),  # min(): TypeError
        ("query_memory", {"query": "x", "limit": None}, "limit"),
        ("remember", {"content": "x", "importance": float("nan")}, "importance"),  # JSON
        ("remember", {"content": "x", "importance": "high"}, "importance"),  # salience_score
        ("remember", {"content": "x", "importance": 7}, "importance"),
        ("remember", {"content": "x", "client_id": float("nan")}, "client_id"),  # JSON
        ("create_plan", {"intent": "x", "client_id": float("inf")}, "client_id"),
        ("query_memory", {"query": "x", "client_id": "Acme"}, "client_id"),
        ("create_plan", {"intent": "x", "client_id": 2**31}, "client_id"),
        ("agenda", {"days": "a week"}, "days"),
        ("complete_task", {"task_id": "1\x00"}, "task_id"),  # httpx: InvalidURL
        ("complete_task", {"task_id": "1/../../memory/facts/2"}, "task_id"),  # another route
        ("complete_task", {"task_id": 1, "finished_at": "2026-11-10T17:00"}, "finished_at"),
        ("complete_task", {"task_id": 1, "finished_at": "last Tuesday"}, "finished_at"),
        ("approve_plan", {"plan_id": "y" * 100_000}, "plan_id"),
        ("approve_plan", {"plan_id": "9" * 5000}, "plan_id"),  # int(): digit limit
        ("reflect_daily", {"day": "y" * 100_000}, "day"),  # httpx: InvalidURL
        ("reflect_daily", {"day": {"iso": "2026-12-01"}}, "day"),
        ("schedule_tasks", {"plan_id": 1, "apply": "later"}, "apply"),
        ("schedule_tasks", {"plan_id": 1, "apply": True, "run_id": "last"}, "run_id"),
        ("schedule_tasks", {"plan_id": "one"}, "plan_id"),
    ],
)
async def test_arguments_a_model_gets_wrong_are_named_and_send_nothing(
    method: str, args: dict[str, Any], name: str
) -> None:
    tools, sent = recording_tools()
    out = await getattr(tools, method)(**args)
    assert out.startswith(f"Almanac could not do that: {name} must be"), out
    assert [r.url.path for r in sent if r.url.path != "/api/v1/scheduler/calendar"] == []


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("create_plan", {"intent": float("nan")}),
        ("create_plan", {"intent": "x", "deadline": float("inf")}),
        ("remember", {"content": float("nan")}),
    ],
)
async def test_nan_in_a_text_argument_is_a_message_and_sends_nothing(
    method: str, args: dict[str, Any]
) -> None:
    """httpx's bare ValueError for NaN in a JSON body read "this tool failed unexpectedly"."""
    tools, sent = recording_tools()
    out = await getattr(tools, method)(**args)
    assert out.startswith("Almanac could not do that: an argument is NaN or infinity"), out
    assert sent == []


@pytest.mark.parametrize(
    ("method", "args", "expected"),
    [
        ("query_memory", {"query": "x", "limit": "many"}, "limit must be a whole number (1 to 50)"),
        ("query_memory", {"query": "x", "limit": 2**70}, "limit must be a whole number (1 to 50)"),
        ("agenda", {"days": "a week"}, "days must be a whole number (1 to 14)"),
    ],
)
async def test_a_clamped_count_is_refused_naming_its_range(
    method: str, args: dict[str, Any], expected: str
) -> None:
    """Read "limit must be a whole number from -9223372036854775807 to ...": the bounds
    it was parsed within, not the range the tool documents and clamps to."""
    tools, sent = recording_tools()
    out = await getattr(tools, method)(**args)
    assert out == f"Almanac could not do that: {expected}.", out
    assert [r.url.path for r in sent if r.url.path != "/api/v1/scheduler/calendar"] == []


async def test_a_schedule_is_written_only_when_apply_means_yes_and_the_preview_exists(
    live_server: LiveServer, committed_state: AppState
) -> None:
    """apply="false" was true (a non-empty string) and wrote the schedule; a run_id the API
    refused (422) was taken for an older API and a fresh schedule was written instead."""
    import_workflows(live_server)
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=live_server.url, api_key=live_server.key)
    out = await tools.create_plan(f"Run a marketing audit for Acme {uuid.uuid4().hex[:6]}")
    plan_id = int(re.match(r"Draft plan #(\d+)", out).group(1))  # type: ignore[union-attr]
    await tools.approve_plan(plan_id)

    def status() -> str:
        r = httpx.get(f"{live_server.url}/api/v1/planner/plans/{plan_id}",
                      headers=live_server.headers, timeout=60)  # fmt: skip
        return str(r.json()["status"])

    for apply in ("false", "no", 0, None):
        out = await tools.schedule_tasks(plan_id, apply=apply)  # type: ignore[arg-type]
        assert out.startswith("Preview"), out
    assert status() == "approved"
    out = await tools.schedule_tasks(plan_id, apply=True, run_id=-3)
    assert out.startswith("Almanac could not do that: run_id must be"), out
    out = await tools.schedule_tasks(plan_id, apply=True, run_id=2**63 - 1)
    assert out.startswith("Almanac could not do that (404)"), out
    assert status() == "approved"  # nothing was written
    out = await tools.schedule_tasks(plan_id, apply="true")  # type: ignore[arg-type]
    assert out.startswith("Scheduled") and status() == "scheduled"
    # A preview applied twice (the model retrying) says the second wrote nothing.
    preview = await tools.schedule_tasks(plan_id)
    run = int(re.search(r"run #(\d+)", preview).group(1))  # type: ignore[union-attr]
    assert (await tools.schedule_tasks(plan_id, apply=True, run_id=run)).startswith("Scheduled")
    again = await tools.schedule_tasks(plan_id, apply=True, run_id=run)
    assert again.startswith("Already scheduled, nothing written now"), again
    assert "the blocks as that run wrote them; the agenda shows now" in again, again


@pytest.mark.parametrize(
    ("valves", "user_valves", "expected"),
    [
        ({"api_key": "alm_Secret123456789\nX-Evil: 1"}, None, "Almanac rejected the API key"),
        ({"api_key": "alm_Secrét123456789"}, None, "Almanac rejected the API key"),
        ({}, {"api_key": "alm_Secret 123456789"}, "Almanac rejected the API key"),
        ({}, {"client_id": "the big one"}, "Almanac could not read your user valves (client_id)"),
        ({"almanac_url": "http://[::1"}, None, "The 'almanac_url' valve ('http://[::1')"),
        ({"almanac_url": "localhost:8090"}, None, "The 'almanac_url' valve"),
    ],
)
async def test_valves_no_request_can_carry_are_messages_without_the_key(
    valves: dict[str, str], user_valves: dict[str, Any] | None, expected: str
) -> None:
    tools, _ = load_tools()
    tools.valves = tools.Valves(**{"almanac_url": f"http://127.0.0.1:{free_port()}", **valves})
    user = {"valves": user_valves} if user_valves is not None else None
    for call in (tools.query_memory("anything", __user__=user), tools.agenda(__user__=user)):
        out = await call
        assert out.startswith(expected), out
        assert "Secret" not in out and "Secr" not in out


async def test_a_url_valve_with_a_proxy_login_still_sends_the_key(
    live_server: LiveServer,
) -> None:
    """httpx sends a login in the URL as `Authorization: Basic`, which replaced the Bearer
    key: every call was refused. The key goes as X-API-Key beside it."""
    tools, _ = load_tools()
    url = live_server.url.replace("http://", "http://proxy:s3cret-pass@")
    tools.valves = tools.Valves(almanac_url=url, api_key=live_server.key)
    out = await tools.query_memory("anything")
    assert not out.startswith("Almanac"), out


async def test_a_password_in_the_url_valve_is_not_repeated() -> None:
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=f"http://me:hunter2@127.0.0.1:{free_port()}")
    out = await tools.agenda()
    assert out.startswith("Almanac is not reachable at http://127.0.0.1:"), out
    assert "hunter2" not in out


@pytest.mark.parametrize("method", ["query_memory", "remember"])
async def test_text_with_a_lone_surrogate_is_a_message(method: str) -> None:
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=f"http://127.0.0.1:{free_port()}")
    out = await getattr(tools, method)("half an emoji \ud83d")
    assert out == "Almanac could not do that: a text argument holds invalid Unicode."


async def test_a_schedule_preview_names_the_other_plans_blocks_it_writes(
    client: httpx.AsyncClient, db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B's schedule also writes A's work that A's one-day window left out: the chat saw
    B's blocks only and was told to apply. The tool's calls go to the app in-process."""
    from datetime import date, timedelta

    from tests.scheduler.conftest import make_plan

    tools, _ = load_tools()

    async def call(method: str, path: str, user: Any, **kw: Any) -> Any:
        r = await client.request(method, path, params=kw.get("params"), json=kw.get("json"))
        assert r.status_code == 200, r.text
        return r.json()

    monkeypatch.setattr(tools, "_call", call)
    monday = date.today() + timedelta(days=7 - date.today().weekday())  # within 14 days
    chain = [
        {"key": f"t{i}", "estimate_hours": 3.0} | ({"depends_on": [f"t{i - 1}"]} if i else {})
        for i in range(4)
    ]
    a = (await make_plan(db_session, chain, title="A")).id
    body = {"plan_id": a, "start_date": monday.isoformat(), "horizon_days": 1, "dry_run": False}
    assert (await client.post("/api/v1/scheduler/schedule", json=body)).status_code == 200
    b = (await make_plan(db_session, [{"key": "x", "estimate_hours": 1.0}], title="B")).id
    # The tool schedules from today for 14 days: A's left-out work lands in that window too.
    out = await tools.schedule_tasks(b)
    assert out.startswith("Preview"), out
    assert re.search(rf"^- adds plan #{a} \d{{4}}-\d\d-\d\d \d\d:\d\d ", out, re.M), out


async def test_a_long_preview_says_how_many_other_plans_blocks_it_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first 20 moves were kept before other plans' were picked: a plan's own moves
    hid every other plan's, and past 20 added blocks the rest went unsaid."""
    tools, _ = load_tools()

    def move(plan_id: int, i: int) -> dict[str, Any]:
        start = f"2030-01-07T{8 + i // 4:02d}:{i % 4 * 15:02d}:00+01:00"
        return {"plan_id": plan_id, "title": f"t{i}", "from_start": start, "to_start": start,
                "why": "re-placed: free"}  # fmt: skip

    out = {
        "run_id": 9, "plan_id": 1, "applied": False, "blocks": [], "unplaced": [],
        "moves": [move(1, i) for i in range(25)] + [move(2, 0)],
        "placed": [{"plan_id": 3, "title": f"p{i}", "start": move(3, i)["from_start"]}
                   for i in range(23)],
    }  # fmt: skip

    async def call(method: str, path: str, user: Any, **kw: Any) -> Any:
        return out

    monkeypatch.setattr(tools, "_call", call)
    text = await tools.schedule_tasks(1)
    assert "- moves plan #2 t0: 2030-01-07 08:00 -> 2030-01-07 08:00" in text, text
    assert text.count("- adds plan #3 ") == 20, text
    assert "- and 3 more added blocks of other plans" in text, text


async def test_complete_task_sends_when_the_work_was_finished() -> None:
    """The API takes `finished_at` for work recorded after the fact; `complete_task` could
    only mark a task done now (a week caught up today counted done today)."""
    tools, _ = load_tools()
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"task": {"id": 7, "title": "Audit"}})

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url=url
    )
    out = await tools.complete_task(7, finished_at="2026-11-10T17:00:00+01:00")
    assert out.startswith("Task #7 done"), out
    assert sent == [{"status": "done", "finished_at": "2026-11-10T17:00:00+01:00"}]


async def test_a_recalled_hits_time_is_shown_in_the_users_zone() -> None:
    """Its date alone was UTC's, then its UTC time: a memory from 22:44 in New York on
    1 December read "2026-12-02". The zone is the dashboard's, from /api/v1/auth/me, asked
    once; while it cannot be read, times are in UTC, said so."""
    tools, _ = load_tools()
    hit = {"id": 5, "kind": "event", "content": "call Acme", "relevance": 0.9}
    hit["occurred_at"] = "2026-12-02T03:44:00Z"
    asked: list[str] = []
    me_up = False

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/api/v1/auth/me":
            if not me_up:
                return httpx.Response(503, json={"detail": "starting"})
            return httpx.Response(200, json={"scope": "read", "timezone": "America/New_York"})
        return httpx.Response(200, json={"query": "acme", "results": [hit]})

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url=url
    )
    out = await tools.query_memory("acme")
    assert "#5 event 2026-12-02 03:44 UTC (relevance 0.90) call Acme" in out, out
    me_up = True
    for _ in range(2):
        out = await tools.query_memory("acme")
        assert "#5 event 2026-12-01 22:44 America/New_York (relevance 0.90) call Acme" in out, out
    assert asked.count("/api/v1/auth/me") == 2, asked


async def test_a_recalled_hit_under_the_relevance_floor_says_it_is_only_near() -> None:
    """The model got every hit alike: the nearest unrelated memory read as an answer."""
    tools, _ = load_tools()
    hits = [
        {"id": 5, "kind": "event", "content": "Dana approves invoices", "relevance": 0.97},
        {"id": 6, "kind": "event", "content": "I work 9-5", "relevance": 0.0},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/me":
            return httpx.Response(200, json={"scope": "read", "timezone": "UTC"})
        return httpx.Response(200, json={"query": "q", "results": hits})

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url=url
    )
    lines = (await tools.query_memory("who approves invoices")).splitlines()
    assert lines == [
        "- #5 event (relevance 0.97) Dana approves invoices",
        "- #6 event (relevance 0.00, under the floor: near, not a match) I work 9-5",
    ], lines


def agenda_tools(events: list[dict[str, Any]], timezone: str = "Europe/Berlin") -> Any:
    """The tools on a transport answering the calendar view with `events`, and who the
    caller is with the user's `timezone`."""
    tools, _ = load_tools()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/me":
            return httpx.Response(200, json={"scope": "read", "timezone": timezone})
        return httpx.Response(200, json={"start": "2026-12-07T00:00:00+01:00", "events": events})

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url=url
    )
    return tools


def event(title: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"id": title, "title": title, "start": start, "end": end, "almanac": False,
            "busy": True, "all_day": False, **extra}  # fmt: skip


async def test_the_agenda_shows_an_event_over_several_days_and_a_day_off_as_they_are() -> None:
    """The end's time was sliced from its text: a conference until Wednesday read as
    "09:00–17:00" on Monday only, a day off as "00:00–00:00" (the CLI and MCP say which
    day it ends, and "all day")."""
    tools = agenda_tools(
        [
            event("Conference", "2026-12-07T09:00:00+01:00", "2026-12-09T17:00:00+01:00"),
            event(
                "Day off", "2026-12-08T00:00:00+01:00", "2026-12-09T00:00:00+01:00", all_day=True
            ),  # fmt: skip
            event("Trip", "2026-12-10T00:00:00+01:00", "2026-12-12T00:00:00+01:00", all_day=True),
            event("Late call", "2026-12-10T22:00:00+01:00", "2026-12-11T00:00:00+01:00"),
            event("Call", "2026-12-07T14:00:00+01:00", "2026-12-07T14:59:59.900000+01:00"),
        ]
    )
    out = await tools.agenda(days=7)
    assert out.splitlines() == [
        "Times in Europe/Berlin:",
        "- 2026-12-07 09:00-Wed 09 Dec 17:00 [busy] Conference",
        "- 2026-12-08 all day [busy] Day off",
        "- 2026-12-10 all day, to Fri 11 Dec [busy] Trip",
        "- 2026-12-10 22:00-00:00 [busy] Late call",
        "- 2026-12-07 14:00-15:00 [busy] Call",
    ], out


@pytest.mark.parametrize(
    ("start", "end", "all_day"),
    [
        ("2026-12-07T09:00:00+01:00", "2026-12-09T17:00:00+01:00", False),
        ("2026-12-07T09:00:00+01:00", "2026-12-07T10:30:00+01:00", False),
        ("2026-12-07T23:00:00+01:00", "2026-12-08T00:00:00+01:00", False),
        ("2026-12-07T23:00:00+01:00", "2026-12-08T00:30:00+01:00", False),
        ("2026-12-07T01:00:00+01:00", "2026-12-07T01:14:59.900000+01:00", False),
        ("2026-12-07T00:00:00+01:00", "2026-12-08T00:00:00+01:00", True),
        ("2026-12-07T00:00:00+01:00", "2026-12-10T00:00:00+01:00", True),
        ("2026-12-09T14:00:00+01:00", "2027-12-09T15:00:00+01:00", False),
        ("2026-12-30T00:00:00+01:00", "2027-01-02T00:00:00+01:00", True),
    ],
)
def test_the_agenda_words_a_span_as_the_cli_does(start: str, end: str, all_day: bool) -> None:
    """The file repeats almanac.clock.clock_span (it imports nothing from almanac)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from almanac.clock import clock_span

    tools, _ = load_tools()
    first, last, tz = datetime.fromisoformat(start), datetime.fromisoformat(end), ZoneInfo("CET")
    expected = f"{first:%Y-%m-%d} {clock_span(first, last, tz, all_day)}"
    assert sys.modules["tool_almanac_test"]._span(start, end, all_day) == expected


async def test_the_agenda_shows_free_time_as_free() -> None:
    """A declined invitation is stored as free time: the agenda called it "[busy]"."""
    tools = agenda_tools(
        [
            event(
                "Declined sync",
                "2026-12-07T10:00:00+01:00",
                "2026-12-07T11:00:00+01:00",
                busy=False,
            ),  # fmt: skip
            event("Client call", "2026-12-07T14:00:00+01:00", "2026-12-07T15:00:00+01:00"),
        ]
    )
    assert (await tools.agenda()).splitlines() == [
        "Times in Europe/Berlin:",
        "- 2026-12-07 10:00-11:00 [free] Declined sync",
        "- 2026-12-07 14:00-15:00 [busy] Client call",
    ]


async def test_the_agenda_names_the_users_zone_and_shows_its_clock() -> None:
    """ "14:00" named no zone: read on the reader's clock, hours off for a user abroad."""
    tools = agenda_tools(
        [event("Client call", "2026-12-07T14:00:00+01:00", "2026-12-07T15:00:00+01:00")],
        timezone="America/New_York",
    )
    assert (await tools.agenda()).splitlines() == [
        "Times in America/New_York:",
        "- 2026-12-07 08:00-09:00 [busy] Client call",
    ]
    # A zone the tools cannot read is not guessed at: the calendar's own clock, said so.
    tools = agenda_tools(
        [event("Client call", "2026-12-07T14:00:00+01:00", "2026-12-07T15:00:00+01:00")],
        timezone="Mars/Olympus",
    )
    assert (await tools.agenda()).splitlines()[0] == "Times as the calendar gives them:"


async def test_a_client_setting_out_of_range_is_blamed_on_the_setting() -> None:
    """A User Valves client_id of 0 was told as "client_id must be ...": the model took it
    for its own argument and retried with another client's id."""
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=f"http://127.0.0.1:{free_port()}", api_key="k")
    user = {"valves": tools.UserValves(client_id=0)}
    out = await tools.query_memory("anything", __user__=user)
    assert "your client_id setting (User Valves)" in out, out
    # An argument out of range is still the argument's.
    out = await tools.query_memory("anything", client_id=0, __user__=user)
    assert "client_id must be" in out and "setting" not in out, out


async def test_create_plan_can_ask_for_library_estimates(
    live_server: LiveServer, committed_state: AppState
) -> None:
    # create_plan took no `estimates`: a chat asking for the library's figures could not
    # get them (the API, the CLI and MCP can), and nothing said which figures a plan holds.
    import_workflows(live_server)
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=live_server.url, api_key=live_server.key)
    user = {"id": "u1", "valves": tools.UserValves(client_id=7)}
    spec = tool_spec(tools.create_plan)["parameters"]["properties"]["estimates"]
    assert "library" in json.dumps(spec)
    out = await tools.create_plan("Run a marketing audit for Acme", estimates="library",
                                  __user__=user)  # fmt: skip
    plan_id = int(re.match(r"Draft plan #(\d+)", out).group(1))  # type: ignore[union-attr]
    assert "library estimates, as asked" in out
    plan = httpx.get(f"{live_server.url}/api/v1/planner/plans/{plan_id}",
                     headers=live_server.headers, timeout=60).json()  # fmt: skip
    assert plan["estimates_mode"] == "library"
    out = await tools.create_plan("Run a marketing audit for Acme", __user__=user)
    assert "library estimates" not in out


def test_the_tools_read_the_relevance_floor_recall_uses() -> None:
    from almanac.memory.relevance import FLOOR

    load_tools()
    assert sys.modules["tool_almanac_test"].RELEVANCE_FLOOR == FLOOR


async def test_remember_retried_in_one_reply_is_stored_once(
    live_server: LiveServer, committed_state: AppState
) -> None:
    """A model that calls remember again in the same reply (after a timeout, or twice)
    stored the memory twice: no idempotency key was sent."""
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url=live_server.url, api_key=live_server.key)
    user = {"id": "u1", "valves": tools.UserValves()}
    note = f"Acme's invoices go to accounts@acme.example ({uuid.uuid4().hex[:8]})"
    reply = {"chat_id": "c1", "message_id": uuid.uuid4().hex}
    ids = set()
    for _ in range(2):
        out = await tools.remember(note, __user__=user, __metadata__=reply)
        ids.add(re.fullmatch(r"Remembered \(#(\d+)\)\.", out).group(1))  # type: ignore[union-attr]
    assert len(ids) == 1, ids
    # Another reply saying it again, or another user in the same reply: their own memory.
    later = {"chat_id": "c1", "message_id": uuid.uuid4().hex}
    out = await tools.remember(note, __user__=user, __metadata__=later)
    assert re.fullmatch(r"Remembered \(#(\d+)\)\.", out).group(1) not in ids  # type: ignore[union-attr]
    other = {"id": "u2", "valves": tools.UserValves()}
    out = await tools.remember(note, __user__=other, __metadata__=reply)
    assert re.fullmatch(r"Remembered \(#(\d+)\)\.", out).group(1) not in ids  # type: ignore[union-attr]


async def test_a_write_that_timed_out_says_it_may_have_been_made() -> None:
    """A timed-out remember read "Almanac is not reachable": the model took it as not
    stored, though the server may have stored it."""
    tools, _ = load_tools()
    tools.valves = tools.Valves(almanac_url="http://127.0.0.1:9", api_key="k")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    tools._http_client = lambda url: httpx.AsyncClient(
        transport=httpx.MockTransport(slow), base_url=url
    )
    out = await tools.remember("x", __metadata__={"message_id": "m"})
    assert out.startswith("Almanac did not answer in time"), out
    assert "may have been stored" in out and "not reachable" not in out
    out = await tools.agenda()  # a read: nothing was changed
    assert out.startswith("Almanac did not answer in time") and "may have" not in out, out


def test_a_document_passage_is_named_with_its_documents_id() -> None:
    load_tools()
    label = sys.modules["tool_almanac_test"]._hit_label
    hit = {"id": 3, "kind": "document", "metadata": {"document_id": 2}}
    assert label(hit) == "#3 passage of document 2"
    assert label({"id": 3, "kind": "fact", "metadata": {}}) == "#3 fact"


def test_the_tools_show_control_characters_as_almanac_does() -> None:
    """The file repeats almanac.printable.visible (it imports nothing from almanac)."""
    from almanac.printable import visible

    load_tools()
    shown = sys.modules["tool_almanac_test"]._visible
    for text in ("plain", "Deck \u0007\u001b[2J \u202eevil\u200f\u009b6n", "a\tb\nc", "\u061c"):
        assert shown(text) == visible(text)


async def test_stored_control_characters_reach_the_chat_as_escapes() -> None:
    hostile = "Deck \u001b[2J\u202eevil"
    tools = agenda_tools([event(hostile, "2026-12-07T14:00:00+01:00", "2026-12-07T15:00:00+01:00")])
    out = await tools.agenda()
    assert "Deck \\u001b[2J\\u202eevil" in out and "\u001b" not in out, repr(out)
