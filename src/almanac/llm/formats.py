"""How a server is asked for JSON, and how JSON is found in what it answers.

Servers differ: OpenAI, OpenRouter and vLLM take `response_format: json_schema`; Ollama and
llama.cpp's `llama-server` take `json_object`; llama-cpp-python's server answers a
`json_schema` request with HTTP 500; some proxies ignore `response_format` altogether.
So each call starts from the mode that last worked for its (base URL, model) and steps
down (json_schema → json_object → text) when the server rejects a mode. What worked is
remembered in a `FormatMemory` shared by every client of the process.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Literal, TypeVar, cast

from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from almanac.llm.base import Message
from almanac.types import check_text

T = TypeVar("T", bound=BaseModel)

Mode = Literal["json_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")

# Statuses with which servers refuse a request's *shape* (a response_format they do not
# know) rather than say they are down: 400/415/422 from strict servers, 500/501 from
# llama-cpp-python and some proxies. 502-504 are gateways and outages, never a refusal.
REJECTION_STATUSES = frozenset({400, 415, 422, 500, 501})

# Validation errors quoted back to the model and into records are cut to this length.
MAX_ERROR_CHARS = 2000
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```", re.DOTALL)

SCHEMA_INSTRUCTION = (
    "Answer with a single JSON object and nothing else (no prose, no code fences). "
    "It must conform to this JSON Schema:\n{schema}"
)


class FormatMemory:
    """Per (base URL, model): the output mode that last worked. Thread-safe."""

    def __init__(self) -> None:
        self._modes: dict[tuple[str, str], Mode] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str, model: str) -> Mode:
        """The mode to start with (json_schema for a server not seen yet)."""
        with self._lock:
            return self._modes.get((base_url, model), "json_schema")

    def remember(self, base_url: str, model: str, mode: Mode) -> None:
        """`mode` worked: start there next time."""
        with self._lock:
            self._modes[(base_url, model)] = mode

    def forget(self) -> None:
        """Forget every server (tests)."""
        with self._lock:
            self._modes.clear()


# One per process: every client of the same server and model learns from the others.
FORMATS = FormatMemory()


def next_mode(mode: Mode) -> Mode | None:
    """The mode to try after `mode` was rejected, or None after plain text."""
    index = MODES.index(mode)
    return MODES[index + 1] if index + 1 < len(MODES) else None


def schema_name(schema: type[BaseModel]) -> str:
    """A name the API accepts ([a-zA-Z0-9_-]{1,64}); generic models look like `Page[Item]`."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__)[:64] or "answer"


def response_format(mode: Mode, schema: type[BaseModel]) -> dict[str, object] | None:
    """The `response_format` request field for `mode` (None: do not send one)."""
    match mode:
        case "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(schema),
                    "schema": schema.model_json_schema(),
                    "strict": False,
                },
            }
        case "json_object":
            return {"type": "json_object"}
        case _:
            return None


def schema_instruction(schema: type[BaseModel]) -> str:
    """The schema written into the prompt, for modes that do not carry it on the wire."""
    return SCHEMA_INSTRUCTION.format(
        schema=json.dumps(schema.model_json_schema(), separators=(",", ":"))
    )


def wire_messages(
    messages: Sequence[Message], schema: type[BaseModel], mode: Mode
) -> list[ChatCompletionMessageParam]:
    """The messages as sent; without json_schema on the wire, the schema goes in the prompt
    (json_object only promises JSON, not this JSON, and text promises nothing)."""
    wire = [{"role": m.role, "content": m.content} for m in messages]
    if mode != "json_schema":
        note = schema_instruction(schema)
        if wire and wire[0]["role"] == "system":
            wire[0] = {"role": "system", "content": f"{wire[0]['content']}\n\n{note}"}
        else:
            wire.insert(0, {"role": "system", "content": note})
    return cast("list[ChatCompletionMessageParam]", wire)


def extract_json(content: str) -> str:
    """The JSON object inside `content`: itself, a fenced block, or the first balanced
    `{...}` in prose (servers that ignore response_format answer "Sure! {...}")."""
    text = content.strip()
    if text.startswith("{"):
        return text
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip()
    start = text.find("{")
    if start < 0:
        return text
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]  # unbalanced: truncated; validation will say so


def parse(schema: type[T], content: str, *, truncated: bool = False) -> tuple[T | None, str]:
    """The validated value, or None and what was wrong, as text for a repair request."""
    text = extract_json(content)
    if not text:
        return None, "the answer was empty"
    try:
        value = schema.model_validate_json(text)
    except ValidationError as exc:
        lines = []
        if truncated:
            lines.append("- the answer was cut off at the token limit: answer more briefly")
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"- {loc}: {err['msg']}")
        return None, "\n".join(lines)[:MAX_ERROR_CHARS]
    # JSON may spell a NUL or a lone surrogate (\u0000, \ud800), which no schema refuses
    # and Postgres text cannot store: a plan titled so was a 500 at the INSERT.
    # A schema whose items are checked one by one (`RawFacts`: one bad proposal is rejected
    # with a reason, the others kept) says so; there one NUL would lose every good item.
    bad = None if getattr(schema, "checks_own_text", False) else unstorable(value)
    if bad is not None:
        return None, f"- {bad[0]}: {bad[1]}"
    return value, ""


def unstorable(value: object, loc: str = "") -> tuple[str, str] | None:
    """Where the first string Postgres text cannot store is, and why (None: none is)."""
    if isinstance(value, str):
        try:
            check_text(value)
        except ValueError as exc:
            return loc or "(root)", str(exc)
        return None
    children: Iterable[tuple[object, object]] = ()
    if isinstance(value, BaseModel):
        children = ((name, getattr(value, name)) for name in type(value).model_fields)
    elif isinstance(value, dict):
        for key in value:
            if (found := unstorable(key, loc)) is not None:
                return found
        children = value.items()
    elif isinstance(value, list | tuple):
        children = enumerate(value)
    for key, item in children:
        if (found := unstorable(item, f"{loc}.{key}" if loc else str(key))) is not None:
            return found
    return None


def estimate_tokens(chars: int) -> int:
    """A rough token count for text the server did not count for us (~4 chars a token)."""
    return (chars + 3) // 4
