"""What a tool says of the API's answer: every part the user must know is said (a queued
calendar write, a note, a warning, a calendar not reached by a forget). The answers are
the API's own response models, so a field renamed there fails here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from almanac.mcp.api import Api
from almanac.mcp.server import build_server
from almanac.memory.schemas import ForgetOut
from almanac.scheduler.schemas import BlockChangeOut, CalendarWriteOut
from almanac.tasks.schemas import TaskOut, TaskUpdateOut, TimeOut

AT = datetime(2026, 12, 7, 9, tzinfo=UTC)
QUEUED = "CalDAV did not answer; job 12 writes it once the calendar answers"


def task() -> TaskOut:
    return TaskOut(
        id=7, plan_id=3, key="a", title="Audit", description=None, estimate_hours=4,
        logged_hours=3, removed_hours=0, remaining_hours=1, priority=2, billable=True,
        status="todo", depends_on=[], earliest_start=None, deadline=None,
        scheduled_start=None, finished_at=None, client_id=None,
    )  # fmt: skip


def change(kind: str) -> BlockChangeOut:
    return BlockChangeOut(
        almanac_id=f"blk-{kind}", plan_id=3, task_key="a", change=kind, start=AT, end=AT
    )  # type: ignore[arg-type]


async def said(tool: str, args: dict[str, Any], answer: dict[str, Any]) -> str:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)),
        base_url="http://127.0.0.1",
    )
    server = build_server(lambda ctx: Api(client, timezone="UTC"))
    out = await server.call_tool(tool, args)
    assert isinstance(out, CallToolResult) and not out.isError, out
    blocks = out.content
    return "\n".join(b.text for b in blocks if isinstance(b, TextContent))


async def test_log_time_says_the_blocks_fitted_the_queued_calendar_and_the_warnings() -> None:
    answer = TimeOut(
        task=task(),
        execution_run_id=1,
        actual_hours=3,
        blocks=[change("freed"), change("shortened"), change("shortened")],
        calendar=CalendarWriteOut(provider="caldav", pending=True, detail=QUEUED),
        warnings=["recorded a day ahead of now"],
    ).model_dump(mode="json")
    text = await said("log_time", {"task_id": 7, "hours": 1.5}, answer)
    assert text.splitlines()[0] == "logged 1.5 h on task #7 (3 h in all)"
    assert "freed 1 future block(s)" in text and "shortened 2 future block(s)" in text
    assert f"calendar not updated yet: {QUEUED}" in text
    assert "warning: recorded a day ahead of now" in text


async def test_complete_task_says_the_apis_note_and_a_queued_calendar() -> None:
    answer = TaskUpdateOut(
        task=task().model_copy(update={"status": "done"}),
        released_blocks=1,
        blocks=[change("freed")],
        calendar=CalendarWriteOut(provider="caldav", pending=True, detail=QUEUED),
        note="its 1 h left are no longer planned",
    ).model_dump(mode="json")
    text = await said("complete_task", {"task_id": 7}, answer)
    assert text.startswith("done: task #7 [done] Audit")
    assert "freed 1 future block(s)" in text and text.count("freed") == 1
    assert f"calendar not updated yet: {QUEUED}" in text
    assert "note: its 1 h left are no longer planned" in text


async def test_forget_subject_names_what_went_and_what_is_not_reached_yet() -> None:
    answer = ForgetOut(
        subject_type="client",
        subject_id="7",
        events_deleted=2,
        facts_deleted=1,
        documents_deleted=1,
        cache_invalidated=True,
        deleted={"events": 2, "facts": 1, "plans": 2, "calendar_entries": 5, "google_events": 4},
        pending={"caldav_events": "CalDAV did not answer; job 9 deletes them when it does"},
        zep="queued",
        zep_detail="Zep timed out",
    ).model_dump(mode="json")
    args = {"subject_type": "client", "subject_id": "7"}
    text = await said("forget_subject", args, answer)
    first = text.splitlines()[0]
    assert first == (
        "forgot client:7: 2 memories, 1 facts, 1 documents, 2 plans (with their tasks), "
        "5 calendar blocks, 4 Google Calendar events"
    )
    assert "not yet deleted from caldav_events: CalDAV did not answer; job 9" in text
    assert "Zep: deletion queued (Zep timed out)" in text
    # Nothing of the subject anywhere: said so, not "forgot".
    empty = json.loads(json.dumps(answer))
    empty.update(events_deleted=0, facts_deleted=0, documents_deleted=0, deleted={}, pending={})
    empty["zep"] = "off"
    assert (await said("forget_subject", args, empty)).startswith("nothing stored about client:7")


async def test_move_block_names_its_own_argument_for_an_unknown_block() -> None:
    problem = {
        "type": "about:blank", "title": "Not Found", "status": 404,
        "detail": "'../x' is not an Almanac block; only Almanac's can be moved",
        "errors": [{"field": "event_id", "message": "'../x' is not an Almanac block"}],
    }  # fmt: skip
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(404, json=problem)),
        base_url="http://127.0.0.1",
    )
    server = build_server(lambda ctx: Api(client, timezone="UTC"))
    args = {"block_id": "../x", "start": AT.isoformat(), "end": AT.isoformat()}
    with pytest.raises(ToolError) as refused:
        await server.call_tool("move_block", args)
    message = str(refused.value)
    assert "block_id" in message and "event_id" not in message, message


HOSTILE = "Deck \u0007\u001b[2J\u001b[31mRED\u001b[0m \u202eevil\u200f\u009b6n"


async def test_stored_control_characters_are_shown_not_obeyed() -> None:
    """A memory holding "\\x1b[2J" cleared the screen of a terminal client (Claude Code
    shows tool text in the terminal), as the CLI's tables no longer let it."""
    hit = {"id": 5, "kind": "event", "content": HOSTILE, "occurred_at": None, "metadata": {}}
    text = await said("recall", {"query": "deck"}, {"results": [hit]})
    assert "\\u001b[2J" in text and "\\u0007" in text and "\\u202eevil" in text, text
    assert not any(ch in text for ch in "\u0007\u001b\u202e\u200f\u009b"), repr(text)
