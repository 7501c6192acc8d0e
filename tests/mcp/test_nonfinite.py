"""NaN and Infinity in a tool call, sent raw as a client in another language may: JSON has
neither, Python's parsers take them, and the SDK's re-dump turned them into null, so a
`revise_plan` edit of `estimate_hours: NaN` read as "no change" and went unsaid. Over
HTTP and over stdio, the call is refused naming the argument, and nothing is written."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import httpx

from almanac.state import AppState
from tests.live_server import LiveServer
from tests.mcp.helpers import import_workflows, ok, session

REFUSED = "revise_plan: edit[0].estimate_hours: must be a finite number, not NaN or Infinity"


def call(plan_id: int, task: str, hours: str, id_: int = 5) -> str:
    edit = '[{"id": ' + json.dumps(task) + ', "estimate_hours": ' + hours + "}]"
    arguments = '{"plan_id": ' + str(plan_id) + ', "edit": ' + edit + "}"
    params = '{"name": "revise_plan", "arguments": ' + arguments + "}"
    return (
        '{"jsonrpc": "2.0", "id": '
        + str(id_)
        + ', "method": "tools/call", "params": '
        + (params + "}")
    )


async def draft(live_server: LiveServer) -> dict[str, Any]:
    import_workflows(live_server)
    async with session(live_server, "http") as s:
        _, plan = await ok(s, "plan", intent=f"Run a marketing audit for Acme {uuid.uuid4()}")
    return dict(plan)


def version(live_server: LiveServer, plan_id: int) -> int:
    r = httpx.get(
        f"{live_server.url}/api/v1/planner/plans/{plan_id}",
        headers=live_server.headers,
        timeout=60,
    )
    return int(r.json()["version"])


async def test_nan_in_a_tool_call_over_http_is_refused_naming_it(
    live_server: LiveServer, committed_state: AppState
) -> None:
    plan = await draft(live_server)
    task = plan["sop"]["steps"][0]["tasks"][0]["id"]
    headers = {
        **live_server.headers,
        "Accept": "application/json, text/event-stream",
        "content-type": "application/json",
    }
    async with httpx.AsyncClient(timeout=60) as client:
        for raw in ("NaN", "Infinity", "-Infinity"):
            r = await client.post(
                live_server.url + "/mcp", content=call(plan["id"], task, raw), headers=headers
            )
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["id"] == 5 and answer["result"]["isError"] is True, r.text
            assert answer["result"]["content"][0]["text"] == REFUSED
        assert version(live_server, plan["id"]) == plan["version"]
        # Elsewhere than a tool's arguments: invalid params, naming where.
        body = '{"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {"x": NaN}}'
        r = await client.post(live_server.url + "/mcp", content=body, headers=headers)
        assert r.json()["error"]["code"] == -32602 and r.json()["error"]["data"] == {
            "field": "params.x"
        }, r.text
        # A finite figure still edits.
        r = await client.post(
            live_server.url + "/mcp", content=call(plan["id"], task, "3.5"), headers=headers
        )
        assert r.status_code == 200 and not r.json()["result"].get("isError"), r.text
        assert version(live_server, plan["id"]) == plan["version"] + 1


async def test_nan_in_a_tool_call_over_stdio_is_refused_naming_it(
    live_server: LiveServer, committed_state: AppState
) -> None:
    plan = await draft(live_server)
    task = plan["sop"]["steps"][0]["tasks"][0]["id"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "almanac",
        "mcp",
        env=dict(live_server.env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    lines = [
        json.dumps(init),
        '{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        call(plan["id"], task, "NaN", id_=2),
    ]
    proc.stdin.write(("\n".join(lines) + "\n").encode())
    await proc.stdin.drain()
    answers: dict[int, Any] = {}
    try:
        while 2 not in answers:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "the server closed stdout before answering"
            message = json.loads(line)
            answers[message.get("id")] = message
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 60)
    assert answers[2]["result"]["isError"] is True, answers[2]
    assert answers[2]["result"]["content"][0]["text"] == REFUSED
    assert version(live_server, plan["id"]) == plan["version"]
