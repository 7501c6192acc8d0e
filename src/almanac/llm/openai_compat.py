"""An LLM client for any OpenAI-compatible `POST /v1/chat/completions` API (OpenRouter,
OpenAI, Ollama, vLLM, llama.cpp's server, llama-cpp-python's server), through the `openai` SDK.

Each `complete_json` call:
- asks for JSON the way the server accepts it (`formats`: json_schema, json_object or plain
  text with the JSON found in the prose), starting from what last worked for this server and
  model; a refusal of a mode (HTTP 400/415/422/500/501) steps down without spending a retry
  and without counting against the server's health;
- streams the answer with `max_tokens` per operation, inside a time budget per operation
  that covers retries and repair: when it runs out the call is cancelled, and the tokens it
  used are still recorded (estimated from the streamed text when the server had not said);
- retries 429, 408, 5xx, connection errors and timeouts with exponential backoff (the SDK's
  own retries are off so that attempts are counted and recorded here);
- validates the answer, makes at most one repair request, then lets the caller's judge
  look at the content;
- goes through a circuit breaker, failing fast while the server is known to be down;
- never quotes a server's error text (tracebacks, file paths) in what it raises or records:
  that goes to the log;
- produces one `LLMCallRecord`, handed to the injected `CallRecorder`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

from almanac.config import OpenAILLMSettings
from almanac.llm.attempts import Attempts, CallFailed, Tuned
from almanac.llm.base import (
    CallRecorder,
    Judge,
    LLMAnswerRejected,
    LLMCallRecord,
    LLMClient,
    LLMOutputInvalid,
    LLMTooSlow,
    LLMUnavailable,
    Message,
    Prompt,
    StructuredResult,
    T,
)
from almanac.llm.circuit import CircuitBreaker, RecentCalls
from almanac.llm.formats import (
    FORMATS,
    FormatMemory,
    Mode,
    parse,
)
from almanac.llm.tuning import NO_TUNING, TuningSource
from almanac.llm.wire import describe

logger = logging.getLogger(__name__)

REPAIR_INSTRUCTION = (
    "Your previous answer could not be used: it is not valid JSON for the required schema.\n"
    "Validation errors:\n{errors}\n"
    "Reply with the corrected JSON object only."
)


class OpenAICompatibleLLM(LLMClient):
    """Structured (JSON) completions from an OpenAI-compatible chat API.

    `client` is used with the SDK's retries off; it is closed by `close()` only when
    `owns_client` is true (the factory's own client). `budgets` and `max_tokens` are per
    operation (missing: no budget / no limit). `sleep`, `clock` and `jitter` are injectable
    so that tests need no real waiting; `formats` defaults to the process-wide memory.
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
        budgets: Mapping[str, float] | None = None,
        max_tokens: Mapping[str, int] | None = None,
        stream: bool = True,
        formats: FormatMemory | None = None,
        output_mode: Mode | None = None,
        tuning: TuningSource | None = None,
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
        self.base_url = str(client.base_url)
        self.model = model
        self.models = dict(models or {})
        self.recorder = recorder
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_base_seconds = backoff_base_seconds
        self.budgets = dict(budgets or {})
        self.max_tokens = dict(max_tokens or {})
        self.stream = stream
        self.tuning = tuning
        self.formats = formats if formats is not None else FORMATS
        if output_mode is not None:
            # Configured: start there (a refusal still steps down from it).
            self.formats.remember(self.base_url, model, output_mode)
        self.breaker = CircuitBreaker(
            failure_threshold=breaker_failures, reset_seconds=breaker_reset_seconds, clock=clock
        )
        self.recent = RecentCalls(clock=clock)  # how the last real calls ended, for /health
        self._owns_client = owns_client
        self.attempts = Attempts(
            client=self.client,
            formats=self.formats,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
            backoff_base_seconds=backoff_base_seconds,
            stream=stream,
            sleep=sleep,
            jitter=jitter,
        )

    @classmethod
    def from_settings(
        cls,
        settings: OpenAILLMSettings,
        *,
        client: AsyncOpenAI,
        recorder: CallRecorder,
        owns_client: bool = False,
        **overrides: Any,
    ) -> OpenAICompatibleLLM:
        """Build from the `openai` LLM settings; `overrides` win."""
        kwargs: dict[str, Any] = {
            "models": settings.models,
            "timeout_seconds": settings.timeout_seconds,
            "max_retries": settings.max_retries,
            "backoff_base_seconds": settings.backoff_base_seconds,
            "breaker_failures": settings.breaker_failures,
            "breaker_reset_seconds": settings.breaker_reset_seconds,
            "budgets": settings.budget_seconds,
            "max_tokens": settings.max_tokens,
            "stream": settings.stream,
            "output_mode": None if settings.output_mode == "auto" else settings.output_mode,
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

    def budget_for(self, operation: str) -> float | None:
        return self.budgets.get(operation)

    async def complete_json(
        self,
        *,
        operation: str,
        prompt: Prompt,
        schema: type[T],
        judge: Judge[T] | None = None,
        budget_seconds: float | None = None,
        max_tokens: int | None = None,
    ) -> StructuredResult[T]:
        chosen = await self.tuning.get(operation) if self.tuning is not None else NO_TUNING
        model = chosen.model or self.model_for(operation)
        budget = budget_seconds if budget_seconds is not None else self.budget_for(operation)
        if max_tokens is None:
            max_tokens = chosen.max_tokens or self.max_tokens.get(operation)
        tuned = Tuned(model, chosen.temperature, max_tokens)
        rec = LLMCallRecord(
            operation=operation,
            model=model,
            prompt_template=prompt.template,
            prompt_version=prompt.version,
            outcome="error",  # until proven otherwise (also covers cancellation)
        )
        started = time.perf_counter()
        deadline = None if budget is None else time.monotonic() + budget
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
                async with asyncio.timeout(budget):
                    value = await self._complete(
                        rec, tuned, prompt.messages, schema, deadline, judge
                    )
            except TimeoutError as exc:
                settled = True
                self._breaker_failure()
                rec.outcome = "timeout"
                rec.error = f"no usable answer within the {budget:g}s budget"
                self.recent.note(False, rec.error)
                raise LLMTooSlow(
                    f"{model} gave no usable answer for {operation} within its {budget:g} s budget"
                ) from exc
            except CallFailed as exc:
                settled = True
                if exc.counts:
                    self._breaker_failure()
                else:
                    self.breaker.release()
                rec.outcome = exc.outcome
                rec.error = exc.message
                self.recent.note(False, exc.message)
                raise LLMUnavailable(
                    f"LLM request for {operation} ({model}) failed: {exc.message}"
                ) from exc
            except LLMOutputInvalid as exc:
                settled = True
                # The server answered: it is up, whatever the quality of the answer.
                self.breaker.record_success()
                what = "rejected" if isinstance(exc, LLMAnswerRejected) else "invalid"
                self.recent.note(False, f"answer {what}")
                raise
            settled = True
            self.breaker.record_success()
            self.recent.note(True, "")
            return StructuredResult(value=value, record=rec)
        finally:
            if not settled:
                self.breaker.release()
                rec.error = rec.error or "cancelled or failed unexpectedly"
            rec.latency_ms = (time.perf_counter() - started) * 1000.0
            await self._record(rec)

    async def _complete(
        self,
        rec: LLMCallRecord,
        tuned: Tuned,
        messages: Sequence[Message],
        schema: type[T],
        deadline: float | None,
        judge: Judge[T] | None = None,
    ) -> T:
        model = tuned.model
        content, truncated = await self.attempts.send(rec, tuned, messages, schema, deadline)
        value, errors = parse(schema, content, truncated=truncated)
        if value is None:
            # One repair: show the model its answer and what was wrong with it.
            logger.info("LLM answer for %s did not validate; asking for a repair", rec.operation)
            repair = [
                *messages,
                Message("assistant", content),
                Message("user", REPAIR_INSTRUCTION.format(errors=errors)),
            ]
            content, truncated = await self.attempts.send(rec, tuned, repair, schema, deadline)
            value, errors = parse(schema, content, truncated=truncated)
            if value is None:
                rec.outcome = "invalid"
                rec.error = errors
                raise LLMOutputInvalid(
                    f"LLM answer for {rec.operation} ({model}) does not match "
                    f"{schema.__name__}, even after one repair: {errors}"
                )
            rec.outcome = "repaired"
        else:
            rec.outcome = "ok"
        reasons = list(judge(value)) if judge is not None else []
        if reasons:
            rec.outcome = "rejected"
            rec.rejection = reasons
            logger.info("LLM answer for %s rejected: %s", rec.operation, "; ".join(reasons))
            raise LLMAnswerRejected(
                f"the LLM's answer for {rec.operation} ({model}) was rejected: "
                + "; ".join(reasons),
                reasons,
                value.model_dump(mode="json"),
            )
        return value

    def _breaker_failure(self) -> None:
        was_open = self.breaker.state != "closed"
        self.breaker.record_failure()
        if not was_open and self.breaker.state != "closed":
            logger.warning(
                "LLM circuit opened after %d consecutive failures; retrying in %gs",
                self.breaker.consecutive_failures,
                self.breaker.reset_seconds,
            )

    def recent_failure(self) -> str | None:
        """Why the LLM looks unwell from real calls: the last calls failed, recently."""
        return self.recent.failure()

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
            raise LLMUnavailable(f"LLM server check failed: {describe(exc)}") from exc
        failure = self.recent_failure()
        if failure is not None:
            raise LLMUnavailable(f"the server answers, but {failure}")

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM(model={self.model!r}, base_url={self.base_url!r})"
