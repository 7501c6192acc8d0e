"""JSON-RPC messages holding NaN or Infinity, refused before the SDK reads them.

JSON has neither, but Python's parser and pydantic's accept the bare words, and the SDK
re-dumps each request in JSON mode before validating it, where they become null: a
`revise_plan` edit of `"estimate_hours": NaN` arrived as "no change" and was dropped
without a word. Both transports (HTTP and stdio) refuse such a message here instead,
naming the argument as every other refusal does.
"""

from __future__ import annotations

import math
from typing import Any

NOT_FINITE = "must be a finite number, not NaN or Infinity"


def nonfinite_at(value: Any, where: str = "") -> str | None:
    """The path of the first NaN or infinity in parsed JSON, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "value"
    if isinstance(value, dict):
        for key, item in value.items():
            if (found := nonfinite_at(item, f"{where}.{key}" if where else str(key))) is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if (found := nonfinite_at(item, f"{where}[{i}]")) is not None:
                return found
    return None


def nonfinite_param(message: Any) -> str | None:
    """Where a JSON-RPC message's params hold NaN or Infinity, or None."""
    if not isinstance(message, dict) or "method" not in message:
        return None
    try:
        return nonfinite_at(message.get("params"), "params")
    except RecursionError:  # nested past what a walk can follow: the SDK refuses it
        return None


def refusal(message: dict[str, Any], found: str) -> dict[str, Any] | None:
    """The answer to a request whose params hold NaN or Infinity at `found`; None for a
    notification, which gets no answer (it is dropped)."""
    if "id" not in message:
        return None
    params = message.get("params")
    tool = params.get("name") if isinstance(params, dict) else None
    if message["method"] == "tools/call" and isinstance(tool, str):
        # As the tool's other argument refusals read: a result marked as an error.
        where = found.removeprefix("params.arguments.")
        text = f"{tool[:100]}: {where}: {NOT_FINITE}"
        result = {"content": [{"type": "text", "text": text}], "isError": True}
        return {"jsonrpc": "2.0", "id": message["id"], "result": result}
    error = {
        "code": -32602,
        "message": f"Invalid params: {found}: {NOT_FINITE}",
        "data": {"field": found},
    }
    return {"jsonrpc": "2.0", "id": message["id"], "error": error}
