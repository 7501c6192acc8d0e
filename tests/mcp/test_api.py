"""Tool arguments are bounded as the REST routes bound them, and path values stay one
segment; in-process, against a transport that records what would reach the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.server.fastmcp.exceptions import ToolError
from mcp.shared.exceptions import McpError
from mcp.types import INVALID_PARAMS

from almanac.mcp.api import Api, segment
from almanac.mcp.server import build_server


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"events_deleted": 0, "facts_deleted": 0})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def call(recorder: Recorder, tool: str, args: dict[str, Any]) -> Any:
    client = httpx.AsyncClient(transport=recorder, base_url="http://almanac.test")
    server = build_server(lambda ctx: Api(client))
    return await server.call_tool(tool, args)


# Each went to httpx and failed there ("URL component 'query' too long", "Invalid
# non-printable ASCII character in URL"), or reached the API under another field's name.
@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("recall", {"query": "y" * 100_000}, "query"),
        ("recall", {"query": "x", "session_id": "s" * 70_000}, "session_id"),
        ("recall", {"query": "x", "since": "2026-01-01T09:00:00"}, "since"),
        ("get_facts", {"subject_id": "a\x00b"}, "subject_id"),
        ("forget_subject", {"subject_type": "client", "subject_id": "a\x00b"}, "subject_id"),
        ("forget_subject", {"subject_type": "t" * 70_000, "subject_id": "1"}, "subject_type"),
        ("context", {"query": "a\x00b"}, "query"),
        ("agenda", {"start_date": "9999-12-31", "days": 7}, "start_date"),
        ("reflect", {"day": "0001-01-01"}, "day"),
        (
            "move_block",
            {"block_id": "b\x00", "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T10:00:00Z"},
            "block_id",
        ),
    ],  # fmt: skip
)
async def test_bad_arguments_name_the_argument_and_send_nothing(
    recorder: Recorder, tool: str, args: dict[str, Any], field: str
) -> None:
    with pytest.raises(ToolError) as caught:
        await call(recorder, tool, args)
    # One short line: "tool: argument: reason" (was pydantic's report, its URL included).
    assert str(caught.value).startswith(f"{tool}: {field}: "), str(caught.value)[:300]
    assert "pydantic" not in str(caught.value)
    assert recorder.paths == []


async def test_path_values_stay_one_segment(recorder: Recorder) -> None:
    # Before, "../../auth/keys/x" walked out of /memory/subjects/ into another route.
    await call(recorder, "forget_subject", {"subject_type": "..", "subject_id": "../a/b?c#d"})
    assert recorder.paths == ["/api/v1/memory/subjects/%2E%2E/%2E%2E%2Fa%2Fb%3Fc%23d"]
    assert segment("plan1-x.0") == "plan1-x%2E0"


@pytest.mark.parametrize("client_id", ["abc", "9" * 100_000, "0"])
async def test_prompt_and_resource_arguments_are_validated(
    recorder: Recorder, client_id: str
) -> None:
    # Were int() errors ("invalid literal", "Exceeds the limit (4300 digits)") logged with
    # a traceback each; now a validation error naming the argument, and nothing sent.
    server = build_server(lambda ctx: Api(httpx.AsyncClient(transport=recorder)))
    with pytest.raises(McpError, match="client_id") as bad_prompt:
        await server.get_prompt("prepare_client_meeting", {"client_id": client_id})
    assert bad_prompt.value.error.code == INVALID_PARAMS
    with pytest.raises(McpError, match="plan_id") as refused:
        await server.read_resource(f"almanac://plans/{client_id}")
    assert refused.value.error.code == INVALID_PARAMS
    assert recorder.paths == []


@pytest.mark.parametrize(
    ("name", "arguments", "start"),
    [
        ("prepare_client_meeting", {"client_id": "-1"}, "prepare_client_meeting: client_id: "),
        ("prepare_client_meeting", {}, "prepare_client_meeting: client_id: is required"),
        ("plan_my_week", {"for_client": "7"}, "plan_my_week: for_client: "),
        ("plan_my_wek", {}, "unknown prompt 'plan_my_wek'"),
    ],
)
async def test_a_prompt_refused_is_invalid_params_in_one_short_line(
    recorder: Recorder, name: str, arguments: dict[str, str], start: str
) -> None:
    # Each was JSON-RPC code 0 with pydantic's report ("For further information visit
    # https://errors.pydantic.dev/...") or the SDK's "Error rendering prompt" wording.
    server = build_server(lambda ctx: Api(httpx.AsyncClient(transport=recorder)))
    with pytest.raises(McpError) as refused:
        await server.get_prompt(name, arguments)
    assert refused.value.error.code == INVALID_PARAMS
    message = refused.value.error.message
    assert message.startswith(start), message
    assert "pydantic" not in message and len(message) < 200, message
    assert recorder.paths == []


@pytest.mark.parametrize("focus", ["f" * 100_000, "deep\x00work"])
async def test_the_weekly_plan_prompts_focus_is_bounded_as_a_topic_is(
    recorder: Recorder, focus: str
) -> None:
    server = build_server(lambda ctx: Api(httpx.AsyncClient(transport=recorder)))
    with pytest.raises(McpError, match="focus"):
        await server.get_prompt("plan_my_week", {"focus": focus})
    prompt = await server.get_prompt("plan_my_week", {"focus": "the audit"})
    assert "Focus on: the audit." in prompt.messages[0].content.text  # type: ignore[union-attr]


def test_the_server_says_almanacs_version_not_the_mcp_librarys() -> None:
    from almanac import __version__

    server = build_server(lambda ctx: Api(httpx.AsyncClient()))
    # serverInfo.version said 1.30.0 (the SDK's) beside /health's 0.1.0.
    assert server._mcp_server.create_initialization_options().server_version == __version__
