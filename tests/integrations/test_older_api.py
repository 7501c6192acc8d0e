"""Against an Almanac that predates `run_id` (its schedule body forbids unknown fields,
its 422 rendered by the real problem handler), the Open WebUI and MCP tools still write
a schedule: the refusal they take for "no run_id here" is exactly what it answers."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from almanac import problems
from almanac.mcp.api import Api
from almanac.mcp.tools.time import schedule_call
from almanac.types import Strict
from tests.integrations.test_openwebui import load_tools


class OldScheduleIn(Strict):
    """The schedule body before run_id."""

    plan_id: int
    start_date: str | None = None
    horizon_days: int = 14
    dry_run: bool = True


def older_almanac(bodies: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/api/v1/scheduler/schedule")
    async def schedule(body: OldScheduleIn) -> dict[str, Any]:
        bodies.append(body.model_dump())
        applied = not body.dry_run
        return {"run_id": 7, "applied": applied, "blocks": [], "unplaced": [], "warnings": []}

    return app


def transport(bodies: list[dict[str, Any]]) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=older_almanac(bodies))


async def test_open_webui_applies_on_an_api_without_run_id() -> None:
    bodies: list[dict[str, Any]] = []
    tools, _ = load_tools()
    tools._http_client = lambda url: httpx.AsyncClient(transport=transport(bodies), base_url=url)
    out = await tools.schedule_tasks(3, apply=True, run_id=7)
    assert out.startswith("Scheduled"), out
    assert [b["dry_run"] for b in bodies] == [False]  # the first, with run_id, was refused


async def test_mcp_applies_on_an_api_without_run_id() -> None:
    bodies: list[dict[str, Any]] = []
    async with httpx.AsyncClient(transport=transport(bodies), base_url="http://old") as client:
        out = await schedule_call(Api(client), {"plan_id": 3, "dry_run": False}, 7)
    assert out["applied"] and [b["dry_run"] for b in bodies] == [False]
