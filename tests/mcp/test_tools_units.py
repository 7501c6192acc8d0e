"""Pure parts of the MCP tools: draft edits and REST problems as tool errors."""

from __future__ import annotations

import httpx
import pytest
from mcp.server.fastmcp.exceptions import ToolError

from almanac.mcp.api import problem_from
from almanac.mcp.tools.planning import NewTask, TaskEdit, revised_sop


def sop() -> dict:
    return {
        "title": "Audit",
        "steps": [
            {"id": "s1", "title": "Prepare", "tasks": [
                {"id": "a", "title": "Kickoff", "estimate_hours": 1, "depends_on": []},
                {"id": "b", "title": "Interviews", "estimate_hours": 3, "depends_on": ["a"]},
            ]},
            {"id": "s2", "title": "Report", "tasks": [
                {"id": "c", "title": "Write", "estimate_hours": 4, "depends_on": ["a", "b"]},
            ]},
        ],
    }  # fmt: skip


def test_edit_add_remove() -> None:
    out = revised_sop(
        sop(),
        [TaskEdit(id="c", estimate_hours=6, title="Write the report")],
        [NewTask(id="d", title="Present", estimate_hours=1, depends_on=["c"])],
        ["a"],
    )
    tasks = {t["id"]: t for s in out["steps"] for t in s["tasks"]}
    assert set(tasks) == {"b", "c", "d"}
    assert tasks["c"]["estimate_hours"] == 6 and tasks["c"]["title"] == "Write the report"
    assert tasks["b"]["depends_on"] == [] and tasks["c"]["depends_on"] == ["b"]
    assert out["steps"][-1]["tasks"][-1]["id"] == "d" and "step_id" not in tasks["d"]


def test_a_removed_task_passes_its_own_dependencies_on() -> None:
    """Removing the middle of a -> b -> c left c waiting on nothing: the kick-off it came
    after through b was dropped too, and the schedule could put c first."""
    chain = sop()
    chain["steps"][1]["tasks"][0]["depends_on"] = ["b"]
    chain["steps"][1]["tasks"].append(
        {"id": "d", "title": "Present", "estimate_hours": 1, "depends_on": ["c", "a"]}
    )
    tasks = {t["id"]: t for s in revised_sop(chain, [], [], ["b"])["steps"] for t in s["tasks"]}
    assert tasks["c"]["depends_on"] == ["a"] and tasks["d"]["depends_on"] == ["c", "a"]
    # Through two removed in a row, each kept once.
    chain = sop()
    chain["steps"][1]["tasks"][0]["depends_on"] = ["b"]
    chain["steps"][1]["tasks"].append(
        {"id": "d", "title": "Present", "estimate_hours": 1, "depends_on": ["c", "a"]}
    )
    tasks = {
        t["id"]: t for s in revised_sop(chain, [], [], ["b", "c"])["steps"] for t in s["tasks"]
    }
    assert tasks["d"]["depends_on"] == ["a"]


def test_removing_every_task_of_a_step_drops_the_step() -> None:
    out = revised_sop(sop(), [], [], ["c"])
    assert [s["id"] for s in out["steps"]] == ["s1"]


def test_unknown_ids_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ToolError, match="'zz' is not in this plan \\(tasks: a, b, c\\)"):
        revised_sop(sop(), [TaskEdit(id="zz", estimate_hours=1)], [], [])
    with pytest.raises(ToolError, match="step 'nope'"):
        revised_sop(sop(), [], [NewTask(id="e", title="x", estimate_hours=1, step_id="nope")], [])


def test_problem_keeps_message_and_fields() -> None:
    body = {
        "title": "Validation failed",
        "status": 422,
        "detail": "content must contain non-whitespace text",
        "errors": [{"field": "content", "message": "content must contain non-whitespace text"}],
    }
    error = problem_from(httpx.Response(422, json=body))
    assert error.status == 422 and error.errors == body["errors"]
    message = "content must contain non-whitespace text"
    # The reason once: it already names its field.
    assert str(error) == f"Validation failed (422): {message}"
    plain = problem_from(httpx.Response(502, text="bad gateway"))
    assert str(plain) == "Bad Gateway (502): bad gateway"


def test_a_hits_time_is_shown_on_the_users_clock_naming_the_zone() -> None:
    """Its date alone was UTC's, then its UTC time: a memory from 22:44 in New York on
    1 December read "2026-12-02", a day off for whoever asks "what did I note yesterday"."""
    from zoneinfo import ZoneInfo

    from almanac.mcp.tools.memory import hits_text

    hits = [
        {"id": 1, "kind": "event", "occurred_at": "2026-12-02T03:44:46.6Z", "content": "a"},
        {"id": 2, "kind": "fact", "occurred_at": "2026-12-01T23:44:00-04:00", "content": "b"},
    ]
    lines = hits_text(hits, ZoneInfo("America/New_York")).splitlines()
    assert lines == [
        "#1 event 2026-12-01 22:44 America/New_York a",
        "#2 fact 2026-12-01 22:44 America/New_York b",
    ]
    # Without the zone, UTC, said so.
    unknown = hits_text(hits).splitlines()
    assert unknown == ["#1 event 2026-12-02 03:44 UTC a", "#2 fact 2026-12-02 03:44 UTC b"]


async def test_the_zone_is_asked_once_and_falls_back_to_utc() -> None:
    """Read from GET /api/v1/auth/me (the zone the dashboard shows), once per `Api`; an
    unreadable or unknown zone is no zone (UTC, said so), not an error."""
    from almanac.mcp.api import Api

    asked: list[str] = []
    answers = iter([{"scope": "read", "timezone": "America/New_York"}, {}])

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json=next(answers))

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://x")
    api = Api(client)
    assert str(await api.zone()) == "America/New_York" and await api.key_scope() == "read"
    assert str(await api.zone()) == "America/New_York"
    assert asked == ["/api/v1/auth/me"]
    assert await Api(client, timezone="Mars/Olympus").zone() is None
    assert len(asked) == 1

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    broken = httpx.AsyncClient(transport=httpx.MockTransport(down), base_url="http://x")
    assert await Api(broken).zone() is None


def test_a_hit_says_its_relevance_and_whether_it_is_only_near() -> None:
    """The assistant got the hits in rank order with nothing to tell a match from the
    nearest unrelated memory ("I work 9-5" ranked second for "Dana reports")."""
    from zoneinfo import ZoneInfo

    from almanac.mcp.tools.memory import hits_text

    hits = [
        {"id": 2, "kind": "event", "occurred_at": None, "content": "Dana", "relevance": 0.97},
        {"id": 1, "kind": "event", "occurred_at": None, "content": "9-5", "relevance": 0.0},
        {"id": 3, "kind": "event", "occurred_at": None, "content": "z", "relevance": None},
    ]
    lines = hits_text(hits, ZoneInfo("UTC"), relevance=True).splitlines()
    assert lines == [
        "#2 event (relevance 0.97) Dana",
        "#1 event (relevance 0.00, under the floor: near, not a match) 9-5",
        "#3 event z",
    ]


def test_a_document_passage_is_named_with_its_documents_id() -> None:
    """A passage read "#3 document": 3 is the passage's id, and document 3 another file."""
    from almanac.mcp.tools.memory import hits_text

    hit = {
        "id": 3,
        "kind": "document",
        "content": "Rotate the keys",
        "metadata": {"document_id": 2},
    }
    assert hits_text([hit]).startswith("#3 passage of document 2 ")
    event = {"id": 3, "kind": "event", "content": "A note", "metadata": {"document_id": 2}}
    assert hits_text([event]).startswith("#3 event ")
