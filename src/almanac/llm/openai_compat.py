"""An LLM client for any OpenAI-compatible `POST /v1/chat/completions` API (OpenRouter,
OpenAI, Ollama, vLLM, llama.cpp server), through the official `openai` SDK.

Each `complete_json` call:
- asks for `response_format=json_schema` built from the pydantic schema; a server that
  rejects it (HTTP 400 naming response_format/json_schema) is remembered and asked for
  `json_object` from then on, with the schema written into the system message;
- retries 429, 408, 5xx, connection errors and timeouts with exponential backoff (the SDK's
  own retries are switched off so that attempts are counted and recorded here);
- validates the answer and, if it does not fit, makes exactly one repair request;
- goes through a circuit breaker, failing fast while the server is known to be down;
- produces one `LLMCallRecord`, handed to the injected `CallRecorder`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat
from pydantic import BaseModel, ValidationError

from almanac.config import LLMSettings
from almanac.llm.base import (
    CallRecorder,
    LLMCallRecord,
    LLMClient,
    LLMOutputInvalid,
    LLMUnavailable,
    Message,
    Outcome,
    StructuredResult,
    T,
)
from almanac.llm.circuit import CircuitBreaker

logger = logging.getLogger(__name__)

# Jitter adds up to this share of the delay, so that clients that failed together do not
# all come back at the same instant.
_JITTER_SHARE = 0.1
# Validation errors quoted back to the model and into exceptions are cut to this length.
_MAX_ERROR_CHARS = 2000
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)

JSON_OBJECT_INSTRUCTION = (
    "Answer with a single JSON object and nothing else (no prose, no code fences). "
    "It must conform to this JSON Schema:\n{schema}"
)
REPAIR_INSTRUCTION = (
    "Your previous answer could not be used: it is not valid JSON for the required schema.\n"
    "Validation errors:\n{errors}\n"
    "Reply with the corrected JSON object only."
)


class _CallFailed(Exception):
    """A request failed for good (retries exhausted or not retryable)."""

    def __init__(self, outcome: Outcome, message: str, *, counts: bool = True) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.message = message
        # Whether this failure says something about the server's health (for the breaker).
        self.counts = counts


class OpenAICompatibleLLM(LLMClient):
    """Structured (JSON) completions from an OpenAI-compatible chat API.

    `client` is used with the SDK's retries off; it is closed by `close()` only when
    `owns_client` is true (the factory's own client). `sleep`, `clock` and `jitter` are
    injectable so that tests need no real waiting.
    """

    def __init__(
        self,
        *,
        client: AsyncOpenAI,
        model: str,
        recorder: CallRecorder,
        models: Mapping[str, str] | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 3,
        backoff_base_seconds: float = 0.5,
        breaker_failures: int = 3,
        breaker_reset_seconds: float = 30.0,
        owns_client: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not model:
            raise ValueError("model is required")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.client = client.with_options(max_retries=0)
        self.model = model
        self.models = dict(models or {})
        self.recorder = recorder
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_base_seconds = backoff_base_seconds
        self.breaker = CircuitBreaker(
            failure_threshold=breaker_failures, reset_seconds=breaker_reset_seconds, clock=clock
        )
        self.json_object_only = False  # set once the server has rejected json_schema
        self._owns_client = owns_client
        self._sleep = sleep
        self._jitter = jitter

    @classmethod
    def from_settings(
        cls,
        settings: LLMSettings,
        *,
        client: AsyncOpenAI,
        recorder: CallRecorder,
        owns_client: bool = False,
        **overrides: Any,
    ) -> OpenAICompatibleLLM:
        """Build from `LLMSettings` (which must name a model); `overrides` win."""
        if not settings.model:
            raise ValueError("settings.model is required")
        kwargs: dict[str, Any] = {
            "models": settings.models,
            "timeout_seconds": settings.timeout_seconds,
            "max_retries": settings.max_retries,
            "backoff_base_seconds": settings.backoff_base_seconds,
            "breaker_failures": settings.breaker_failures,
            "breaker_reset_seconds": settings.breaker_reset_seconds,
        }
        kwargs.update(overrides)
        return cls(
            client=client,
            model=settings.model,
            recorder=recorder,
            owns_client=owns_client,
            **kwargs,
        )

    def model_for(self, operation: str) -> str:
        return self.models.get(operation) or self.model

    async def complete_json(
        self,
        *,
        operation: str,
        messages: Sequence[Message],
        schema: type[T],
        prompt_template: str | None = None,
        prompt_version: str | None = None,
    ) -> StructuredResult[T]:
        model = self.model_for(operation)
        rec = LLMCallRecord(
            operation=operation,
            model=model,
            prompt_template=prompt_template,
            prompt_version=prompt_version,
            outcome="error",  # until proven otherwise (also covers cancellation)
        )
        started = time.perf_counter()
        settled = False
        try:
            if not self.breaker.allow():
                settled = True
                rec.outcome = "circuit_open"
                rec.error = (
                    f"circuit open after repeated failures; next trial in "
                    f"{self.breaker.retry_in():.1f}s"
                )
                raise LLMUnavailable(f"LLM unavailable for {operation}: {rec.error}")
            try:
                value = await self._complete(rec, model, messages, schema)
            except _CallFailed as exc:
                settled = True
                if exc.counts:
                    self._breaker_failure()
                else:
                    self.breaker.release()
                rec.outcome = exc.outcome
                rec.error = exc.message
                raise LLMUnavailable(
                    f"LLM request for {operation} ({model}) failed: {exc.message}"
                ) from exc
            except LLMOutputInvalid:
                settled = True
                # The server answered: it is up, whatever the quality of the answer.
                self.breaker.record_success()
                raise
            settled = True
            self.breaker.record_success()
            return StructuredResult(value=value, record=rec)
        finally:
            if not settled:
                self.breaker.release()
                rec.error = rec.error or "cancelled or failed unexpectedly"
            rec.latency_ms = (time.perf_counter() - started) * 1000.0
            await self._record(rec)

    async def _complete(
        self, rec: LLMCallRecord, model: str, messages: Sequence[Message], schema: type[T]
    ) -> T:
        content = await self._send(rec, model, messages, schema)
        value, errors = _parse(schema, content)
        if value is not None:
            rec.outcome = "ok"
            return value
        # One repair: show the model its answer and what was wrong with it.
        logger.info("LLM answer for %s did not validate; asking for a repair", rec.operation)
        repair = [
            *messages,
            Message("assistant", content),
            Message("user", REPAIR_INSTRUCTION.format(errors=errors)),
        ]
        content = await self._send(rec, model, repair, schema)
        value, errors = _parse(schema, content)
        if value is not None:
            rec.outcome = "repaired"
            return value
        rec.outcome = "invalid"
        rec.error = errors
        raise LLMOutputInvalid(
            f"LLM answer for {rec.operation} ({model}) does not match {schema.__name__}, "
            f"even after one repair: {errors}"
        )

    async def _send(
        self, rec: LLMCallRecord, model: str, messages: Sequence[Message], schema: type[T]
    ) -> str:
        """One chat request, retried; returns the answer's text and adds usage to `rec`."""
        retries = 0
        while True:
            rec.attempts += 1
            outcome: Outcome
            try:
                response = await self.client.chat.completions.create(
                    model=model,
                    messages=self._wire_messages(messages, schema),
                    response_format=self._response_format(schema),
                    timeout=self.timeout_seconds,
                )
            except openai.BadRequestError as exc:
                if not self.json_object_only and _rejects_json_schema(exc):
                    logger.info("%s rejects json_schema; using json_object from now on", model)
                    self.json_object_only = True
                    continue  # a capability probe, not a failure: no retry is spent
                raise _CallFailed("error", _describe(exc), counts=False) from exc
            except openai.APITimeoutError as exc:
                outcome, message = "timeout", f"no answer within {self.timeout_seconds:g}s"
                last: Exception = exc
            except openai.APIConnectionError as exc:
                outcome, message, last = "error", _describe(exc), exc
            except openai.RateLimitError as exc:
                outcome, message, last = "rate_limited", _describe(exc), exc
            except openai.APIStatusError as exc:
                if exc.status_code != 408 and exc.status_code < 500:
                    # 401/403/404/422...: retrying will not help, and it is a configuration
                    # or request problem rather than a sign of the server being down.
                    raise _CallFailed("error", _describe(exc), counts=False) from exc
                outcome, message, last = "error", _describe(exc), exc
            else:
                _add_usage(rec, response.usage)
                if not response.choices:
                    return ""
                return response.choices[0].message.content or ""
            if retries >= self.max_retries:
                raise _CallFailed(outcome, f"{message} (after {rec.attempts} attempts)") from last
            delay = self.backoff_base_seconds * 2**retries
            delay *= 1.0 + _JITTER_SHARE * self._jitter()
            retries += 1
            logger.debug("LLM %s: %s; retry %d in %.2fs", rec.operation, message, retries, delay)
            await self._sleep(delay)

    def _response_format(self, schema: type[BaseModel]) -> ResponseFormat:
        if self.json_object_only:
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": _schema_name(schema),
                "schema": schema.model_json_schema(),
                "strict": False,
            },
        }

    def _wire_messages(
        self, messages: Sequence[Message], schema: type[BaseModel]
    ) -> list[ChatCompletionMessageParam]:
        wire = [{"role": m.role, "content": m.content} for m in messages]
        if self.json_object_only:
            # json_object only promises JSON, not this JSON: the schema goes in the prompt.
            note = JSON_OBJECT_INSTRUCTION.format(
                schema=json.dumps(schema.model_json_schema(), separators=(",", ":"))
            )
            if wire and wire[0]["role"] == "system":
                wire[0] = {"role": "system", "content": f"{wire[0]['content']}\n\n{note}"}
            else:
                wire.insert(0, {"role": "system", "content": note})
        return cast("list[ChatCompletionMessageParam]", wire)

    def _breaker_failure(self) -> None:
        was_open = self.breaker.state != "closed"
        self.breaker.record_failure()
        if not was_open and self.breaker.state != "closed":
            logger.warning(
                "LLM circuit opened after %d consecutive failures; retrying in %gs",
                self.breaker.consecutive_failures,
                self.breaker.reset_seconds,
            )

    async def _record(self, rec: LLMCallRecord) -> None:
        # Losing a record must not lose the answer (or mask the real error).
        try:
            await self.recorder.record(rec)
        except Exception:
            logger.exception("could not record LLM call for %s", rec.operation)

    async def check(self) -> None:
        if self.breaker.state == "open":
            raise LLMUnavailable(f"LLM circuit open; next trial in {self.breaker.retry_in():.1f}s")
        try:
            await self.client.models.list(timeout=self.timeout_seconds)
        except openai.APIError as exc:
            raise LLMUnavailable(f"LLM server check failed: {_describe(exc)}") from exc

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM(model={self.model!r}, base_url={str(self.client.base_url)!r})"


def _schema_name(schema: type[BaseModel]) -> str:
    # The API allows [a-zA-Z0-9_-]{1,64}; generic models have names like `Page[Item]`.
    return re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__)[:64] or "answer"


def _parse(schema: type[T], content: str) -> tuple[T | None, str]:
    """The validated value, or None and the validation errors as text."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        # Many models wrap JSON in a Markdown fence even when told not to.
        text = fenced.group(1).strip()
    if not text:
        return None, "the answer was empty"
    try:
        return schema.model_validate_json(text), ""
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"- {loc}: {err['msg']}")
        return None, "\n".join(lines)[:_MAX_ERROR_CHARS]


def _rejects_json_schema(exc: openai.BadRequestError) -> bool:
    text = f"{exc.message} {exc.body!r}".lower()
    return "response_format" in text or "json_schema" in text


def _describe(exc: openai.APIError) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"[:_MAX_ERROR_CHARS]
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]


def _add_usage(rec: LLMCallRecord, usage: Any) -> None:
    if usage is None:
        return
    rec.tokens_in += int(usage.prompt_tokens or 0)
    rec.tokens_out += int(usage.completion_tokens or 0)
    # OpenRouter (and some proxies) report the price of the call as `usage.cost`.
    cost = (usage.model_extra or {}).get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        rec.cost = (rec.cost or 0.0) + float(cost)
