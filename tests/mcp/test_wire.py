"""Messages the SDK left unanswered (over stdio) or answered with a 500 or pydantic's dump
(over HTTP): each gets a JSON-RPC error naming the reason, and the session goes on."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from almanac.mcp.stdio import serve_stdio
from almanac.mcp.wire import MAX_DEPTH, refusal

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def listing(params: str) -> bytes:
    return ('{"jsonrpc":"2.0","id":3,"method":"tools/list","params":' + params + "}").encode()


# (a line, the answer's code, its id, words its message holds)
HOSTILE: list[tuple[bytes, int, Any, str]] = [
    (b"not json", -32700, None, "not JSON"),
    (b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"r\\ud800"}}', -32700,
     None, "lone surrogate"),
    (listing(nested(300)), -32700, None, "nested too deeply"),
    (listing(nested(5000)), -32700, None, "nested too deeply"),
    (b'[{"jsonrpc":"2.0","id":4,"method":"tools/list"}]', -32600, None, "batch"),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', -32600, None,
     "id must be a string or an integer, not an object"),
    (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', -32600, None, "not a boolean"),
    (b'"tools/list"', -32600, None, "a JSON object, not a string"),
    (b'{"id":6,"method":"tools/list"}', -32600, 6, 'jsonrpc must be "2.0"'),
    (b'{"jsonrpc":"2.0","id":7}', -32600, 7, "neither a request"),
    (b'{"jsonrpc":"2.0","id":"x","method":5}', -32600, "x", "method must be a string"),
    (b"\xff\xfe{", -32700, None, "not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "code", "request_id", "says"), HOSTILE)
def test_each_unreadable_message_is_refused_with_its_reason(
    line: bytes, code: int, request_id: Any, says: str
) -> None:
    answer = refusal(line)
    if answer is None:  # the shape checks are stdio's own (HTTP leaves them to the SDK)
        assert request_id is not None
        return
    assert answer["error"]["code"] == code and says in answer["error"]["message"]
    assert answer["id"] is None


def test_depth_is_counted_in_containers_and_a_real_call_passes() -> None:
    call = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":%s}'
    # params, its object, arguments, metadata: four levels around what metadata holds.
    assert refusal((call % nested(MAX_DEPTH - 1)).encode()) is None
    assert refusal((call % nested(MAX_DEPTH)).encode()) is not None
    args = {"name": "remember", "arguments": {"content": "x", "metadata": {"a": [1, {"b": 2}]}}}
    assert refusal(json.dumps({**json.loads(call % "{}"), "params": args}).encode()) is None


async def test_stdio_answers_every_hostile_line_and_goes_on() -> None:
    """Each of these had no answer over stdio: the SDK's reader passed an exception on,
    which the server logged, and the caller waited for ever."""
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
        base_url="http://127.0.0.1",
    )
    lines = [json.dumps(INIT).encode(), b'{"jsonrpc":"2.0","method":"notifications/initialized"}']
    lines += [line for line, *_ in HOSTILE]
    lines += [b"", b'{"jsonrpc":"2.0","id":99,"method":"tools/list"}']
    buffer = io.BytesIO()
    out = io.TextIOWrapper(buffer, encoding="utf-8")
    await serve_stdio(client, None, out, io.BytesIO(b"\n".join(lines) + b"\n"))
    out.flush()
    answers = [json.loads(line) for line in buffer.getvalue().decode().splitlines()]
    assert answers[0]["id"] == 1 and "result" in answers[0]
    for answer, (_, code, request_id, says) in zip(answers[1:], HOSTILE, strict=False):
        assert answer["id"] == request_id, answer
        assert answer["error"]["code"] == code and says in answer["error"]["message"], answer
    # One answer per line (the blank line and the notification get none); the session lives.
    assert len(answers) == 1 + len(HOSTILE) + 1
    assert answers[-1]["id"] == 99 and answers[-1]["result"]["tools"]
