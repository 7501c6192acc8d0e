"""`revise_plan` against a real `almanac serve`: an edit that changes nothing says so and
is no new version (a model that retries a call made a version per retry)."""

from __future__ import annotations

import uuid

import httpx

from almanac.state import AppState
from tests.live_server import LiveServer
from tests.mcp.helpers import import_workflows, ok, session


async def test_a_revision_that_changes_nothing_says_so_and_keeps_the_version(
    live_server: LiveServer, committed_state: AppState
) -> None:
    import_workflows(live_server)
    async with session(live_server, "http") as s:
        _, plan = await ok(s, "plan", intent=f"Run a marketing audit for Acme {uuid.uuid4()}")
        task = plan["sop"]["steps"][0]["tasks"][0]
        same = {"id": task["id"], "estimate_hours": task["estimate_hours"]}
        said, out = await ok(s, "revise_plan", plan_id=plan["id"], edit=[same])
        assert said.startswith("Nothing changed"), said
        assert out["version"] == plan["version"]
        said, out = await ok(s, "revise_plan", plan_id=plan["id"], title=plan["plan_title"])
        assert said.startswith("Nothing changed") and out["version"] == plan["version"], said
        more = {"id": task["id"], "estimate_hours": task["estimate_hours"] + 1}
        said, out = await ok(s, "revise_plan", plan_id=plan["id"], edit=[more])
        assert not said.startswith("Nothing changed") and out["version"] == plan["version"] + 1
    r = httpx.get(
        f"{live_server.url}/api/v1/planner/plans/{plan['id']}/versions",
        headers=live_server.headers,
        timeout=60,
    )
    assert [v["version"] for v in r.json()] == [plan["version"]], r.text
