"""The tools' own arguments: JSON `true` is no number, and a refusal names the argument in
a short line (no pydantic wording or URL). Nothing reaches the API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from mcp.server.fastmcp.exceptions import ToolError

from almanac.mcp.api import Api
from almanac.mcp.server import build_server
from almanac.types import NOT_A_DATE, NOT_A_TIME


def _server() -> Any:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the API was called: {request.method} {request.url}")

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://x")
    return build_server(lambda ctx: Api(client))


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("remember", {"content": "x", "salience": True}, "salience"),
        (
            "add_fact",
            {
                "subject_type": "user",
                "subject_id": "me",
                "fact_type": "preference",
                "content": "x",
                "salience": True,
            },
            "salience",
        ),
        ("recall", {"query": "x", "k": True}, "k"),
        ("list_tasks", {"limit": True}, "limit"),
        ("list_plans", {"limit": False}, "limit"),
        ("log_time", {"task_id": 1, "hours": True}, "hours"),
        ("log_time", {"task_id": True, "hours": 1}, "task_id"),
        ("agenda", {"days": True}, "days"),
        ("schedule", {"plan_id": 1, "horizon_days": True}, "horizon_days"),
        (
            "revise_plan",
            {"plan_id": 1, "edit": [{"id": "a", "estimate_hours": True}]},
            "edit[0].estimate_hours",
        ),
    ],
)
async def test_true_is_no_number(tool: str, args: dict[str, Any], named: str) -> None:
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, args)
    message = str(refused.value)
    assert f"{named}: must be" in message, message
    assert "pydantic" not in message


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("remember", {"content": "x", "salience": 3}, "salience"),
        ("recall", {"query": "x", "k": 0}, "k"),
        ("remember", {"salience": 0.5}, "content"),
        ("revise_plan", {"plan_id": 1, "remove": ["x" * 5000]}, "remove[0]"),
    ],
)
async def test_refusals_name_the_argument_without_pydantic_wording(
    tool: str, args: dict[str, Any], named: str
) -> None:
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, args)
    message = str(refused.value)
    assert message.startswith(f"{tool}: {named}: "), message
    assert "errors.pydantic.dev" not in message and "input_value" not in message
    assert "validation error" not in message and "x" * 100 not in message


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("schedule", {"plan_id": 1, "apply": 1}, "apply"),
        ("schedule", {"plan_id": 1, "apply": 0}, "apply"),
        ("schedule", {"plan_id": 1, "apply": "yes"}, "apply"),
        ("get_facts", {"include_history": 1}, "include_history"),
        (
            "revise_plan",
            {"plan_id": 1, "edit": [{"id": "a", "billable": 1}]},
            "edit[0].billable",
        ),
        (
            "revise_plan",
            {"plan_id": 1, "add": [{"id": "b", "title": "t", "estimate_hours": 1, "billable": 0}]},
            "add[0].billable",
        ),
    ],
)
async def test_a_number_is_no_boolean(tool: str, args: dict[str, Any], named: str) -> None:
    # Lax mode read `apply: 1` as true: a schedule written where a number was sent by mistake.
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, args)
    message = str(refused.value)
    assert f"{named}: must be true or false" in message, message


async def test_complete_task_sends_when_the_work_was_finished() -> None:
    """The API takes `finished_at` for work recorded after the fact; `complete_task` could
    only mark a task done now (a week caught up today counted done today)."""
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        task = {"id": 7, "title": "Audit", "status": "done", "estimate_hours": 2.0}
        return httpx.Response(200, json={"task": task, "released_blocks": 0})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://x")
    server = build_server(lambda ctx: Api(client))
    await server.call_tool("complete_task", {"task_id": 7})
    await server.call_tool(
        "complete_task", {"task_id": 7, "finished_at": "2026-11-10T17:00:00+01:00"}
    )
    assert sent[0] == {"status": "done"}
    assert sent[1]["status"] == "done"
    assert datetime.fromisoformat(sent[1]["finished_at"]) == datetime.fromisoformat(
        "2026-11-10T17:00:00+01:00"
    )
    with pytest.raises(ToolError) as refused:  # no zone: which instant is unknown
        await server.call_tool("complete_task", {"task_id": 7, "finished_at": "2026-11-10T17:00"})
    assert "finished_at" in str(refused.value)
    assert len(sent) == 2


async def test_log_time_sends_when_the_work_ended() -> None:
    """The API takes `ended_at` for hours recorded after the fact; `log_time` could only
    record work as ending now."""
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"actual_hours": 1.5, "task": {"id": 7}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://x")
    server = build_server(lambda ctx: Api(client))
    await server.call_tool("log_time", {"task_id": 7, "hours": 1.5})
    await server.call_tool(
        "log_time", {"task_id": 7, "hours": 1.5, "ended_at": "2026-11-10T17:00:00+01:00"}
    )
    assert sent[0] == {"hours": 1.5}
    assert datetime.fromisoformat(sent[1]["ended_at"]) == datetime.fromisoformat(
        "2026-11-10T17:00:00+01:00"
    )
    with pytest.raises(ToolError) as refused:  # no zone: which instant is unknown
        await server.call_tool("log_time", {"task_id": 7, "hours": 1, "ended_at": "2026-11-10"})
    assert "ended_at" in str(refused.value)
    assert len(sent) == 2


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("schedule", {"plan_id": 1, "apply": "y" * 100_000}, "apply"),
        ("get_facts", {"include_history": "y" * 100_000}, "include_history"),
    ],
)
async def test_a_huge_value_where_a_switch_goes_is_not_echoed(
    tool: str, args: dict[str, Any], named: str
) -> None:
    # The refusal quoted the whole value back: 100 kB of it into the model's context.
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, args)
    message = str(refused.value)
    assert message.startswith(f"{tool}: {named}: must be true or false, not 'yyy"), message
    assert len(message) < 200, len(message)


@pytest.mark.parametrize(
    ("tool", "args", "named", "shape"),
    [
        ("agenda", {"start_date": 0}, "start_date", NOT_A_DATE),
        ("reflect", {"day": 20261201}, "day", NOT_A_DATE),
        ("recall", {"query": "x", "since": 0}, "since", NOT_A_TIME),
        (
            "move_block",
            {"block_id": "b", "start": 1764662400, "end": "2026-12-02T10:00:00+00:00"},
            "start",
            NOT_A_TIME,
        ),
    ],
)
async def test_a_number_is_no_date(tool: str, args: dict[str, Any], named: str, shape: str) -> None:
    # Lax mode read a number as a Unix time: `start_date: 0` asked the API for 1 January 1970.
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, args)
    message = str(refused.value)
    # Worded as REST words it (a number sent as text reaches the API's own check).
    assert message.startswith(f"{tool}: {named}: {shape}, not "), message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("remember", {"content": "x"}),
        (
            "add_fact",
            {"subject_type": "user", "subject_id": "me", "fact_type": "identity", "content": "x"},
        ),
    ],
)
async def test_salience_nan_or_infinity_says_so(
    tool: str, args: dict[str, Any], value: float
) -> None:
    # JSON parsers take NaN and Infinity: NaN's refusal said "less than or equal to 1".
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, {**args, "salience": value})
    assert str(refused.value) == f"{tool}: salience: must be a finite number, not NaN or Infinity"


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        # get_facts takes for_client; recall ignored it and answered every client's memories.
        ("recall", {"query": "budget", "for_client": 8}, "for_client"),
        ("context", {"query": "budget", "clientid": 8}, "clientid"),
        ("list_tasks", {"client": 8}, "client"),
    ],
)
async def test_an_argument_the_tool_does_not_take_is_refused(
    tool: str, args: dict[str, Any], named: str
) -> None:
    # The SDK dropped it and called the API unfiltered, as REST refuses (`?clinet_id=7`).
    with pytest.raises(ToolError) as refused:
        await _server().call_tool(tool, args)
    message = str(refused.value)
    assert message.startswith(f"{tool}: {named}: unknown argument"), message
    assert f"{tool} takes " in message, message


async def test_a_write_that_timed_out_says_it_may_have_been_made() -> None:
    """A timed-out write read "Almanac is not reachable", taken as not done though the
    server may have done it."""

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    api = Api(httpx.AsyncClient(transport=httpx.MockTransport(slow), base_url="http://x"))
    with pytest.raises(ToolError) as write:
        await api.post("/api/v1/memory/remember", json={"content": "x"})
    assert str(write.value).startswith("Almanac did not answer in time; what was sent may")
    with pytest.raises(ToolError) as read:
        await api.get("/api/v1/planner/plans")
    assert str(read.value) == "Almanac did not answer in time"


async def test_an_unreachable_server_is_named_by_its_url_without_its_password() -> None:
    """ "Almanac is not reachable (ConnectError: ...)" did not say where it was looked for,
    when the URL in a desktop client's settings is what is wrong."""

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed", request=request)

    client = httpx.AsyncClient(
        transport=httpx.MockTransport(refused), base_url="http://me:s3cret@almanac.lan:8080"
    )
    with pytest.raises(ToolError) as failed:
        await Api(client).get("/api/v1/planner/plans")
    message = str(failed.value)
    assert message.startswith("Almanac is not reachable at http://me:***@almanac.lan:8080 ("), (
        message
    )
    assert "s3cret" not in message
