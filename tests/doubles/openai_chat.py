"""TEST DOUBLE: a stand-in for an OpenAI-compatible `POST /v1/chat/completions` server.

Not a model: it answers from a SCRIPT the test sets (`server.script(...)`), one `Reply` per
request, first in first out: a content string, an HTTP error status with an OpenAI-style
error body, optionally after a delay (to trigger client timeouts) or with the body stalled
after the headers (`stall`: a server that says 503 and then hangs). With the script empty it
answers 500 "script exhausted", so an unexpected extra request fails the test loudly.

Real servers' behaviours, as flags (a refusal never uses up a scripted reply):
- `reject_json_schema=True`: servers without structured outputs (Ollama's older
  versions): a `json_schema` request gets a 400 naming `response_format`;
- `reject_status=500` with it: llama-cpp-python's server, which answers `json_schema` with
  HTTP 500 and a Python traceback (with file paths) as the error message;
- `accepted_formats`: only these `response_format` types are taken ("text" is a request
  without one), e.g. `("json_object",)` for a server that insists on JSON mode;
- a server that ignores `response_format` is a scripted reply with prose around the JSON.
Streaming (`"stream": true`) is answered as server-sent events, one chunk per
`Reply.chunk_chars` characters every `Reply.chunk_delay` seconds (a slow small model), with
a usage chunk only when `stream_options.include_usage` is set and `Reply.stream_usage`;
`max_tokens` cuts the content at ~4 characters a token with `finish_reason: "length"`, as a
model writing until its limit does (unless `Reply.ignore_max_tokens`: a server or proxy that
does not pass the limit on). `GET /v1/models` lists `models`. `hang()` makes every
request (models too) accepted and never answered, as a wedged server, until `release()`.
It listens on 127.0.0.1 (an ephemeral port) in a background thread and records every
request it receives.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.doubles.loopback import JSONHandler, Loopback

if TYPE_CHECKING:
    from almanac.llm.base import CallRecorder
    from almanac.llm.openai_compat import OpenAICompatibleLLM


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.body.get("messages", [])
        return messages

    @property
    def response_format_type(self) -> str | None:
        fmt = self.body.get("response_format") or {}
        kind: str | None = fmt.get("type")
        return kind


@dataclass
class Reply:
    """One scripted answer: `content` with status 200, or `status` with `error`."""

    content: str | None = None
    status: int = 200
    error: str = "injected failure"
    delay: float = 0.0
    stall: float = 0.0  # headers sent, then this long before the body (a JSON one)
    prompt_tokens: int = 11
    completion_tokens: int = 7
    cost: float | None = None  # sent as `usage.cost`, as OpenRouter does
    chunk_chars: int = 40  # streamed in pieces of this many characters...
    chunk_delay: float = 0.0  # ...this many seconds apart
    stream_usage: bool = True  # whether a streamed answer ends with a usage chunk
    finish_reason: str = "stop"
    ignore_max_tokens: bool = False  # a proxy that passes max_tokens on to nothing

    @classmethod
    def json(cls, value: Any, **kw: Any) -> Reply:
        return cls(content=json.dumps(value), **kw)

    @classmethod
    def fail(cls, status: int, error: str = "injected failure", **kw: Any) -> Reply:
        return cls(status=status, error=error, **kw)


# How servers word a refusal of a response_format: a clean 400, or llama-cpp-python's 500
# whose message is a traceback with the server's file paths (which must never leak).
_REFUSALS = {
    400: "Invalid value for 'response_format': {kind} is not supported by this server",
    500: (
        "Traceback (most recent call last):\n"
        '  File "/srv/venv/lib/python3.11/site-packages/llama_cpp/server/app.py", line 491, '
        "in create_chat_completion\n"
        "ValueError: response_format {kind} is not supported with this chat format"
    ),
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
}


@dataclass
class FakeChatServer:
    """Start with `start()` (or as a context manager); `base_url` ends in `/v1`."""

    models: tuple[str, ...] = ("fake-chat",)
    reject_json_schema: bool = False
    reject_status: int = 400
    accepted_formats: tuple[str, ...] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    abandoned: int = 0  # streams the client closed before the end
    _script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loopback: Loopback | None = None
    _answering: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._answering.set()

    def hang(self) -> None:
        """From now on, accept requests and answer none (until `release()`)."""
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    def script(self, *replies: Reply | str) -> None:
        """Queue answers; a plain string is a 200 answer with that content."""
        with self._lock:
            for r in replies:
                self._script.append(Reply(content=r) if isinstance(r, str) else r)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._script)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    def _next(self) -> Reply | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    @property
    def base_url(self) -> str:
        assert self._loopback is not None, "server not started"
        return self._loopback.base_url

    def start(self) -> FakeChatServer:
        double = self

        class Handler(JSONHandler):
            def _error(
                self,
                status: int,
                message: str,
                code: str | None = None,
                kind: str | None = None,
            ) -> None:
                super()._error(
                    status, message, code, kind or _ERROR_TYPES.get(status, "server_error")
                )

            def _record(self, body: dict[str, Any]) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                double.requests.append(RecordedRequest(self.command, self.path, headers, body))

            def do_GET(self) -> None:
                self._record({})
                double._answering.wait()
                if self.path.rstrip("/") != "/v1/models":
                    self._error(404, f"no route {self.path}")
                    return
                data = [{"id": m, "object": "model", "owned_by": "test"} for m in double.models]
                self._send(200, {"object": "list", "data": data})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._error(400, "body is not JSON")
                    return
                self._record(body)
                double._answering.wait()
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._error(404, f"no route {self.path}")
                    return
                kind = (body.get("response_format") or {}).get("type") or "text"
                refused = (double.reject_json_schema and kind == "json_schema") or (
                    double.accepted_formats is not None and kind not in double.accepted_formats
                )
                if refused:
                    self._error(
                        double.reject_status,
                        _REFUSALS.get(double.reject_status, _REFUSALS[400]).format(kind=kind),
                        "invalid_response_format" if double.reject_status < 500 else None,
                    )
                    return
                reply = double._next()
                if reply is None:
                    self._error(500, "script exhausted: no reply queued for this request")
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                self.stall = reply.stall
                if reply.status != 200:
                    self._error(reply.status, reply.error)
                    return
                content, finish = reply.content, reply.finish_reason
                limit = body.get("max_tokens")
                cut = isinstance(limit, int) and not reply.ignore_max_tokens
                if content is not None and cut and len(content) > limit * 4:
                    content, finish = content[: limit * 4], "length"
                if body.get("stream"):
                    self._stream(body, reply, content or "", finish)
                    return
                usage: dict[str, Any] = {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                }
                if reply.cost is not None:
                    usage["cost"] = reply.cost
                message = {"role": "assistant", "content": content}
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(double.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": usage,
                    },
                )

            def _stream(
                self, body: dict[str, Any], reply: Reply, content: str, finish: str
            ) -> None:
                base = {
                    "id": f"chatcmpl-{len(double.requests)}",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model"),
                }

                def event(payload: dict[str, Any] | str) -> None:
                    data = payload if isinstance(payload, str) else json.dumps(payload)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()

                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    step = max(1, reply.chunk_chars)
                    for i in range(0, len(content), step):
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                        delta = {"content": content[i : i + step]}
                        if i == 0:
                            delta["role"] = "assistant"
                        choice = {"index": 0, "delta": delta, "finish_reason": None}
                        event({**base, "choices": [choice]})
                    done = {"index": 0, "delta": {}, "finish_reason": finish}
                    event({**base, "choices": [done]})
                    wants_usage = (body.get("stream_options") or {}).get("include_usage")
                    if wants_usage and reply.stream_usage:
                        usage = {
                            "prompt_tokens": reply.prompt_tokens,
                            "completion_tokens": reply.completion_tokens,
                            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                        }
                        if reply.cost is not None:
                            usage["cost"] = reply.cost
                        event({**base, "choices": [], "usage": usage})
                    event("[DONE]")
                except (BrokenPipeError, ConnectionResetError):
                    double.abandoned += 1  # the client gave up mid-stream (its budget ran out)

        self._loopback = Loopback(Handler, "fake-openai-chat")
        return self

    def stop(self) -> None:
        self.release()
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@asynccontextmanager
async def chat_llm(
    server: FakeChatServer, recorder: CallRecorder, timeout_seconds: float = 4.0
) -> AsyncIterator[OpenAICompatibleLLM]:
    """Almanac's real LLM client (the openai SDK underneath) pointed at the double: no
    retries, a breaker that stays closed; the SDK is closed afterwards."""
    from openai import AsyncOpenAI

    from almanac.llm.formats import FormatMemory
    from almanac.llm.openai_compat import OpenAICompatibleLLM

    sdk = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", timeout=5.0)
    try:
        yield OpenAICompatibleLLM(
            client=sdk,
            model="fake-chat",
            recorder=recorder,
            timeout_seconds=timeout_seconds,
            max_retries=0,
            breaker_failures=50,
            formats=FormatMemory(),
        )
    finally:
        await sdk.close()
