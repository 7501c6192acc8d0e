"""JSON-RPC bodies refused before the SDK reads them, by both transports (HTTP and stdio).

The SDK answered some with a 500 (JSON nested past its parser's depth, a lone surrogate
it failed to echo back, bytes that are no UTF-8), some with pydantic's raw dump (a batch,
a message nested 200 levels deep) and, over stdio, some with nothing at all: the caller
waited for an answer never sent. Each gets a JSON-RPC error here, naming the reason.
"""

from __future__ import annotations

import json
from typing import Any

# Far past any message Almanac takes (metadata is at most 8 levels deep, and its call
# wraps it in 4), and short of the SDK's parser, which failed from about 200.
MAX_DEPTH = 64
PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def error(
    code: int, message: str, request_id: str | int | None = None, **data: Any
) -> dict[str, Any]:
    """A JSON-RPC error answer (`id` null when the message's own could not be read)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data:
        body["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def refusal(body: bytes) -> dict[str, Any] | None:
    """The error answering a body no message can be read from, or None to pass it on."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return error(PARSE_ERROR, "Parse error: the message is not UTF-8")
    try:
        message = json.loads(text)
    except RecursionError:
        return error(
            PARSE_ERROR, f"Parse error: the JSON is nested too deeply (at most {MAX_DEPTH} levels)"
        )
    except ValueError as exc:
        return error(PARSE_ERROR, f"Parse error: not JSON ({exc})")
    if _deeper_than(message, MAX_DEPTH):
        return error(
            PARSE_ERROR, f"Parse error: the JSON is nested too deeply (at most {MAX_DEPTH} levels)"
        )
    try:
        json.dumps(message, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return error(
            PARSE_ERROR, "Parse error: a string holds a lone surrogate (not valid Unicode)"
        )
    if isinstance(message, list):
        # MCP (2025-06-18) took batching out; the SDK read the array as one message.
        return error(
            INVALID_REQUEST,
            "Invalid Request: a batch (a JSON array) is not taken; send each message on its own",
        )
    if not isinstance(message, dict):
        return error(
            INVALID_REQUEST,
            f"Invalid Request: a message is a JSON object, not {json_type(message)}",
        )
    if (reason := bad_id(message)) is not None:
        return error(INVALID_REQUEST, f"Invalid Request: {reason}", field="id")
    return None


def bad_id(message: dict[str, Any]) -> str | None:
    """Why a request's `id` is not one (MCP: a string or an integer). The SDK took a
    message whose `id` was an object, a list, a fraction, a boolean or null for a
    notification: it answered 202 and the caller waited for an answer never sent."""
    if "id" not in message or "method" not in message:
        return None
    value = message["id"]
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return None
    return f"id must be a string or an integer, not {json_type(value)}"


def readable_id(message: Any) -> str | int | None:
    """The message's id when it is one, for an error that can name it."""
    value = message.get("id") if isinstance(message, dict) else None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", bool: "a boolean", float: "a fraction"}
    names |= {str: "a string", int: "an integer"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests more than `limit` containers (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False
