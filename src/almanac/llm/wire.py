"""One chat request on the wire: streamed or not, its usage counted even if cancelled."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

import openai
from openai import AsyncOpenAI

from almanac.llm.base import LLMCallRecord
from almanac.llm.formats import estimate_tokens

logger = logging.getLogger(__name__)

# Server error text is logged up to this length (never returned or stored).
_MAX_LOGGED_CHARS = 2000

# An answer is read up to this many characters a token of `max_tokens` (a token is ~4;
# 16 leaves room for long ones), or up to MAX_ANSWER_CHARS without a limit. A server or
# proxy that ignores `max_tokens` streamed 5 MB, all kept in memory and all sent back to
# it in the repair request; what is beyond reads as an answer cut off at the limit.
CHARS_PER_TOKEN_CEILING = 16
MAX_ANSWER_CHARS = 1_000_000


def _http_errors(name: str) -> tuple[type[Exception], ...]:
    """The exception `name` of the HTTP libraries the SDK may use (httpx2 from its 3.x,
    httpx before), whichever are installed."""
    found: list[type[Exception]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


# The SDK wraps what fails while it sends a request and waits for the headers, but not
# what fails while a streamed body is read afterwards: the answer's chunks, or the body of
# an error status (a 503's, read once the headers said 503). Those reach us raw.
UNWRAPPED_TIMEOUTS = _http_errors("TimeoutException")
UNWRAPPED_ERRORS = _http_errors("TransportError")


def answer_limit(max_tokens: int | None) -> int:
    """How many characters of an answer are read."""
    if not max_tokens:
        return MAX_ANSWER_CHARS
    return min(MAX_ANSWER_CHARS, max_tokens * CHARS_PER_TOKEN_CEILING)


async def chat(
    client: AsyncOpenAI,
    rec: LLMCallRecord,
    kwargs: dict[str, Any],
    *,
    stream: bool,
    on_accept: Callable[[], None] | None = None,
) -> tuple[str, bool]:
    """Send one chat request; returns its text and whether it stopped at `max_tokens`.

    `on_accept` runs once the server has taken the request (HTTP 200), before the answer
    is complete: a call cancelled midway has still shown that the request's shape works.

    Usage goes into `rec` even when the request is cancelled midway (the time budget ran
    out): the server's own count when it sent one, else an estimate from the text streamed.
    """
    prompt_chars = sum(len(str(m.get("content", ""))) for m in kwargs["messages"])
    limit = answer_limit(kwargs.get("max_tokens"))
    if not stream:
        response = await client.chat.completions.create(**kwargs)
        rec.reached_model = True
        if on_accept is not None:
            on_accept()
        content, finish = "", None
        if response.choices:
            content = response.choices[0].message.content or ""
            finish = response.choices[0].finish_reason
        if response.usage is not None:
            add_usage(rec, response.usage)
        else:
            estimate(rec, prompt_chars, len(content))
        if len(content) > limit:
            return content[:limit], True
        return content, finish == "length"
    parts: list[str] = []
    read = 0
    usage: Any = None
    finish = None
    accepted = False
    try:
        chunks = await client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        accepted = rec.reached_model = True
        if on_accept is not None:
            on_accept()
        async with chunks:
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        parts.append(choice.delta.content)
                        read += len(choice.delta.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
                if read > limit:
                    # Leaving closes the stream: the server may stop generating too.
                    finish = "length"
                    break
    finally:
        # Also on cancellation: the tokens were spent all the same.
        if usage is not None:
            add_usage(rec, usage)
        elif accepted:
            estimate(rec, prompt_chars, sum(len(p) for p in parts))
    return "".join(parts)[:limit], finish == "length"


def log_server_error(operation: str, model: str, mode: str, exc: openai.APIStatusError) -> None:
    """The server's own words (a traceback, file paths) are for the operator's log only."""
    logger.warning(
        "LLM %s (%s, %s): HTTP %d: %s",
        operation,
        model,
        mode,
        exc.status_code,
        str(exc.message)[:_MAX_LOGGED_CHARS],
    )


def describe(exc: openai.APIError) -> str:
    """A description safe to return and store: the status or error kind, never the text."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from the server (details in the server log)"
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect to the server"
    return type(exc).__name__


def estimate(rec: LLMCallRecord, prompt_chars: int, answer_chars: int) -> None:
    """Count tokens the server did not report, from the text's length."""
    rec.tokens_in += estimate_tokens(prompt_chars)
    rec.tokens_out += estimate_tokens(answer_chars)
    rec.tokens_estimated = True


def add_usage(rec: LLMCallRecord, usage: Any) -> None:
    """Add the server's usage report to `rec`."""
    rec.tokens_in += int(usage.prompt_tokens or 0)
    rec.tokens_out += int(usage.completion_tokens or 0)
    # OpenRouter (and some proxies) report the price of the call as `usage.cost`.
    cost = (usage.model_extra or {}).get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        rec.cost = (rec.cost or 0.0) + float(cost)
