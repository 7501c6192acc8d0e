"""Hostile MCP arguments against a real `almanac serve`: refused naming the argument,
with nothing written, and `almanac mcp` refusing a key no request can carry."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest

from almanac.mcp.api import Api, ApiProblem
from almanac.mcp.tools.time import schedule_call
from almanac.state import AppState
from tests.live_server import LiveServer
from tests.mcp.helpers import failed, import_workflows, ok, session


def plan_status(server: LiveServer, plan_id: int) -> str:
    r = httpx.get(
        f"{server.url}/api/v1/planner/plans/{plan_id}", headers=server.headers, timeout=60
    )
    return str(r.json()["status"])


async def test_a_run_id_the_api_refuses_writes_no_fresh_schedule(
    live_server: LiveServer, committed_state: AppState
) -> None:
    """Any 422 on run_id was taken for an API that predates run_id, and the plan was
    solved again and written: exactly what `run_id` promises not to do."""
    import_workflows(live_server)
    async with session(live_server, "http") as s:
        _, plan = await ok(s, "plan", intent=f"Run a marketing audit for Acme {uuid.uuid4()}")
        await ok(s, "approve_plan", plan_id=plan["id"])
        await ok(s, "schedule", plan_id=plan["id"])  # a preview
        message = await failed(s, "schedule", plan_id=plan["id"], apply=True, run_id=2**63)
        assert "run_id" in message
        assert plan_status(live_server, plan["id"]) == "approved"

    # The same refusal from the API itself (past the tool's own schema): an error too.
    headers = live_server.headers
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers, timeout=60) as client:
        body = {"plan_id": plan["id"], "dry_run": False}
        with pytest.raises(ApiProblem) as refused:
            await schedule_call(Api(client, headers), body, 2**63)
        assert refused.value.status == 422 and refused.value.errors[0]["field"] == "run_id"
    assert plan_status(live_server, plan["id"]) == "approved"


@pytest.mark.parametrize(
    "args",
    [
        {"remove": ["x" * 5000]},
        {"add": [{"id": "n1", "title": "t", "estimate_hours": 1, "step_id": "s" * 5000}]},
    ],
)
async def test_revise_plan_task_and_step_ids_are_bounded(
    live_server: LiveServer, committed_state: AppState, args: dict[str, object]
) -> None:
    import_workflows(live_server)
    async with session(live_server, "http") as s:
        _, plan = await ok(s, "plan", intent=f"Run a marketing audit for Acme {uuid.uuid4()}")
        message = await failed(s, "revise_plan", plan_id=plan["id"], **args)
        assert ("remove" in message or "step_id" in message) and "x" * 200 not in message
        assert "s" * 200 not in message and len(message) < 2000


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"remove": [f"t{i}" for i in range(501)]}, "remove"),
        ({"add": [{"id": f"n{i}", "title": "t", "estimate_hours": 1} for i in range(501)]}, "add"),
        ({"edit": [{"id": "a", "depends_on": [f"d{i}" for i in range(51)]}]}, "depends_on"),
    ],
    ids=["remove", "add", "depends_on"],
)
async def test_revise_plan_counts_are_bounded_by_the_plans(
    live_server: LiveServer, committed_state: AppState, args: dict[str, object], named: str
) -> None:
    """A plan holds at most 500 tasks (MAX_PLAN_TASKS) and a task 50 dependencies: the
    tool's lists were unbounded and each item was applied before the API refused."""
    import_workflows(live_server)
    async with session(live_server, "http") as s:
        _, plan = await ok(s, "plan", intent=f"Run a marketing audit for Acme {uuid.uuid4()}")
        message = await failed(s, "revise_plan", plan_id=plan["id"], **args)
        assert named in message and ("500" in message or "50" in message), message
    r = httpx.get(
        f"{live_server.url}/api/v1/planner/plans/{plan['id']}",
        headers=live_server.headers,
        timeout=60,
    )
    assert r.json()["version"] == plan["version"]


def test_almanac_mcp_refuses_a_key_no_header_can_carry(live_server: LiveServer) -> None:
    env = dict(live_server.env, ALMANAC_API_KEY="alm_Secret0123456789\u00e9")
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "mcp", "--url", live_server.url],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "the API key in ALMANAC_API_KEY holds" in done.stderr
    assert "Traceback" not in done.stderr and "Secret0123" not in done.stderr
    assert done.stdout == ""
