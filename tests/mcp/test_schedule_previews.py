"""The MCP `schedule` tool's record of previews is bounded: in-process against the real
app and scheduler, in the test's transaction."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from mcp.types import CallToolResult, TextContent
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.mcp.api import Api
from almanac.mcp.server import build_server
from almanac.mcp.tools import time as time_tools
from tests.scheduler.conftest import make_plan


def text(out: object) -> str:
    assert isinstance(out, CallToolResult) and not out.isError, out
    return "\n".join(c.text for c in out.content if isinstance(c, TextContent))


async def test_previews_kept_are_bounded_oldest_forgotten_first(
    client: httpx.AsyncClient, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One preview per (caller, plan) was kept for the server's life: a caller previewing
    plan after plan grew it without end. Now the oldest go past PREVIEWS_KEPT."""
    monkeypatch.setattr(time_tools, "PREVIEWS_KEPT", 2)
    server = build_server(lambda ctx: Api(client))
    monday = date.today() + timedelta(days=14 - date.today().weekday())
    plans = [
        (await make_plan(db_session, [{"key": "work"}], title=f"Plan {n}")).id for n in range(3)
    ]
    args = {"start_date": monday.isoformat(), "horizon_days": 5}
    for plan_id in plans:  # three previews; only the last two are kept
        assert text(await server.call_tool("schedule", {"plan_id": plan_id, **args})).startswith(
            "preview run #"
        )
    newest = text(await server.call_tool("schedule", {"plan_id": plans[2], "apply": True, **args}))
    assert "same placement as preview run #" in newest, newest
    oldest = text(await server.call_tool("schedule", {"plan_id": plans[0], "apply": True, **args}))
    assert oldest.startswith("applied run #") and "preview run #" not in oldest, oldest


async def test_applying_another_run_id_makes_no_claim_about_the_remembered_preview(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """The remembered preview is the plan's last one; applying an earlier run_id compared
    the written schedule with that other preview and named it."""
    server = build_server(lambda ctx: Api(client))
    monday = date.today() + timedelta(days=14 - date.today().weekday())
    plan_id = (await make_plan(db_session, [{"key": "work"}], title="Plan")).id
    args = {"plan_id": plan_id, "start_date": monday.isoformat(), "horizon_days": 5}
    first = text(await server.call_tool("schedule", args))
    second = text(await server.call_tool("schedule", args))
    first_id = int(first.split("#", 1)[1].split(" ", 1)[0])
    second_id = int(second.split("#", 1)[1].split(" ", 1)[0])
    assert first_id != second_id
    out = text(await server.call_tool("schedule", {**args, "apply": True, "run_id": first_id}))
    assert out.startswith("applied run #"), out
    assert f"preview run #{second_id}" not in out, out


def chain(n: int, hours: float) -> list[dict[str, object]]:
    return [
        {"key": f"t{i}", "estimate_hours": hours} | ({"depends_on": [f"t{i - 1}"]} if i else {})
        for i in range(n)
    ]


async def test_a_preview_names_the_other_plans_blocks_it_writes(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """B's schedule also writes A's work that A's one-day window left out; the text showed
    only B's blocks, so the caller applied blocks of another plan it was never shown."""
    server = build_server(lambda ctx: Api(client))
    monday = date.today() + timedelta(days=14 - date.today().weekday())
    a = (await make_plan(db_session, chain(4, 3.0), title="A")).id
    args = {"start_date": monday.isoformat(), "apply": True}
    text(await server.call_tool("schedule", {"plan_id": a, "horizon_days": 1, **args}))
    b = (await make_plan(db_session, chain(1, 1.0), title="B")).id
    out = await server.call_tool(
        "schedule", {"plan_id": b, "start_date": monday.isoformat(), "horizon_days": 2}
    )
    placed = out.structuredContent["placed"]  # type: ignore[index]
    assert placed and {p["plan_id"] for p in placed} == {a}
    shown = text(out)
    for p in placed:
        assert f"adds plan {a} {p['almanac_id']}: {p['start'][:16].replace('T', ' ')}" in shown


async def test_applying_a_preview_without_its_window_writes_the_previews(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """The tool sent its default horizon (14 days) with the apply; the API refuses a window
    that differs from the preview's, so a caller who previewed five days could not apply."""
    server = build_server(lambda ctx: Api(client))
    monday = date.today() + timedelta(days=14 - date.today().weekday())
    plan_id = (await make_plan(db_session, [{"key": "work"}], title="Plan")).id
    args = {"plan_id": plan_id, "start_date": monday.isoformat(), "horizon_days": 5}
    preview = await server.call_tool("schedule", args)
    out = await server.call_tool("schedule", {"plan_id": plan_id, "apply": True})
    assert text(out).startswith("applied run #"), text(out)
    written = out.structuredContent  # type: ignore[union-attr]
    assert written["window_end"] == preview.structuredContent["window_end"]  # type: ignore[index]


async def test_a_preview_applied_again_says_nothing_was_written_now(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """An assistant retrying the apply got "applied run #N" again, as if written twice."""
    server = build_server(lambda ctx: Api(client))
    monday = date.today() + timedelta(days=14 - date.today().weekday())
    plan_id = (await make_plan(db_session, [{"key": "work"}], title="Plan")).id
    args = {"plan_id": plan_id, "start_date": monday.isoformat(), "horizon_days": 5}
    preview = text(await server.call_tool("schedule", args))
    run_id = int(preview.split("#", 1)[1].split(" ", 1)[0])
    first = text(await server.call_tool("schedule", {**args, "apply": True, "run_id": run_id}))
    assert first.startswith("applied run #"), first
    again = text(await server.call_tool("schedule", {**args, "apply": True, "run_id": run_id}))
    assert again.startswith("already applied (nothing written now): run #"), again
    assert "as that run wrote them; agenda shows the calendar now" in again, again


async def test_recall_can_ask_for_documents_only(client: httpx.AsyncClient) -> None:
    """Its description says documents; its `kinds` took only event and fact."""
    server = build_server(lambda ctx: Api(client))
    out = await server.call_tool("recall", {"query": "Acme", "kinds": ["document"]})
    assert isinstance(out, CallToolResult) and not out.isError, out
