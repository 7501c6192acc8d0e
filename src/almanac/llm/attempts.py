"""One chat request to an OpenAI-compatible server, retried with backoff.

Split from `openai_compat` so that the client there reads as the call's life (breaker,
budget, validation, repair, judge) and this module as the wire's (modes, retries, waits).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, cast

import openai
from openai import AsyncOpenAI
from pydantic import BaseModel

from almanac.llm.base import LLMCallRecord, Message, Outcome
from almanac.llm.formats import (
    REJECTION_STATUSES,
    FormatMemory,
    Mode,
    next_mode,
    response_format,
    wire_messages,
)
from almanac.llm.wire import (
    UNWRAPPED_ERRORS,
    UNWRAPPED_TIMEOUTS,
    chat,
    describe,
    log_server_error,
)

logger = logging.getLogger(__name__)

# Jitter adds up to this share of the delay, so that clients that failed together do not
# all come back at the same instant.
JITTER_SHARE = 0.1


class Tuned(NamedTuple):
    """One call's settings, resolved once: the model (tuned or configured) and its limits."""

    model: str
    temperature: float | None
    max_tokens: int | None


class CallFailed(Exception):
    """A request failed for good (retries exhausted or not retryable)."""

    def __init__(self, outcome: Outcome, message: str, *, counts: bool = True) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.message = message
        # Whether this failure says something about the server's health (for the breaker).
        self.counts = counts


class Attempts:
    """Sends one chat request: steps down refused output modes, retries what may pass.

    `client` must have the SDK's own retries off, so that every attempt is counted here.
    """

    def __init__(
        self,
        *,
        client: AsyncOpenAI,
        formats: FormatMemory,
        timeout_seconds: float,
        max_retries: int,
        backoff_base_seconds: float,
        stream: bool,
        sleep: Callable[[float], Awaitable[None]],
        jitter: Callable[[], float],
    ) -> None:
        self.client = client
        self.base_url = str(client.base_url)
        self.formats = formats
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_base_seconds = backoff_base_seconds
        self.stream = stream
        self._sleep = sleep
        self._jitter = jitter

    async def send(
        self,
        rec: LLMCallRecord,
        tuned: Tuned,
        messages: Sequence[Message],
        schema: type[BaseModel],
        deadline: float | None,
    ) -> tuple[str, bool]:
        """One chat request, retried; returns the answer's text and whether it was cut off."""
        model = tuned.model
        retries = 0
        mode = self.formats.get(self.base_url, model)
        while True:
            rec.attempts += 1
            rec.output_mode = mode
            outcome: Outcome
            try:
                answer = await self.request(rec, tuned, messages, schema, mode)
            except openai.APIStatusError as exc:
                log_server_error(rec.operation, model, mode, exc)
                status = exc.status_code
                lower = next_mode(mode)
                if status in REJECTION_STATUSES and lower is not None:
                    # A refusal of this way of asking, not an outage: no retry is spent.
                    logger.info("%s refused %s (HTTP %d); trying %s", model, mode, status, lower)
                    mode = lower
                    continue
                if status == 429:
                    outcome = "rate_limited"
                elif status == 408 or status >= 500:
                    outcome = "error"
                else:
                    # 400/401/403/404/422 in plain text: retrying will not help, and it is a
                    # configuration or request problem rather than the server being down.
                    raise CallFailed("error", describe(exc), counts=False) from exc
                message, last = describe(exc), cast(Exception, exc)
            except openai.APITimeoutError as exc:
                outcome, message = "timeout", f"no answer within {self.timeout_seconds:g}s"
                last = exc
            except openai.APIConnectionError as exc:
                outcome, message, last = "error", describe(exc), exc
            except UNWRAPPED_TIMEOUTS as exc:
                outcome, message = "timeout", f"no answer within {self.timeout_seconds:g}s"
                last = exc
            except UNWRAPPED_ERRORS as exc:
                outcome, message, last = "error", "the connection broke while reading", exc
            else:
                return answer
            if retries >= self.max_retries:
                raise CallFailed(outcome, f"{message} (after {rec.attempts} attempts)") from last
            delay = self.backoff_base_seconds * 2**retries
            delay *= 1.0 + JITTER_SHARE * self._jitter()
            if deadline is not None and time.monotonic() + delay >= deadline:
                # Waiting would only end in the budget running out: say what went wrong.
                raise CallFailed(outcome, f"{message} (after {rec.attempts} attempts)") from last
            retries += 1
            logger.debug("LLM %s: %s; retry %d in %.2fs", rec.operation, message, retries, delay)
            await self._sleep(delay)

    async def request(
        self,
        rec: LLMCallRecord,
        tuned: Tuned,
        messages: Sequence[Message],
        schema: type[BaseModel],
        mode: Mode,
    ) -> tuple[str, bool]:
        model = tuned.model
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": wire_messages(messages, schema, mode),
            "timeout": self.timeout_seconds,
        }
        fmt = response_format(mode, schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        if tuned.max_tokens:
            kwargs["max_tokens"] = tuned.max_tokens
        if tuned.temperature is not None:
            kwargs["temperature"] = tuned.temperature
        return await chat(
            self.client,
            rec,
            kwargs,
            stream=self.stream,
            on_accept=lambda: self.formats.remember(self.base_url, model, mode),
        )
