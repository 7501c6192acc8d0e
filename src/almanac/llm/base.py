"""The LLM interface: messages in, a validated pydantic object out, every call recorded."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from almanac.errors import AlmanacError, DependencyUnavailable

T = TypeVar("T", bound=BaseModel)

Role = Literal["system", "user", "assistant"]
Outcome = Literal[
    "ok", "repaired", "invalid", "rejected", "error", "rate_limited", "timeout", "circuit_open"
]
# Looks at a valid answer and says what is wrong with its content (empty: accept it).
Judge = Callable[[T], Sequence[str]]


class LLMError(AlmanacError):
    """The LLM gave no usable answer: unreachable, too slow, invalid or rejected. Callers
    that can do without the LLM catch this and fall back."""


class LLMUnavailable(DependencyUnavailable, LLMError, title="LLM unavailable"):
    """The LLM could not be reached, kept failing, or its circuit breaker is open."""


class LLMTooSlow(LLMUnavailable, status_code=504, title="LLM too slow"):
    """The operation's time budget ran out before the LLM gave a usable answer."""


class LLMOutputInvalid(LLMError, status_code=502, title="LLM output invalid"):
    """The LLM answered, but not with JSON matching the schema (even after one repair)."""


class LLMAnswerRejected(LLMOutputInvalid, title="LLM answer rejected"):
    """The LLM's answer fit the schema but its content failed the operation's checks."""

    def __init__(
        self, message: str, reasons: Sequence[str], answer: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, errors=[{"field": "answer", "message": r} for r in reasons])
        self.reasons = list(reasons)
        self.answer = answer  # the rejected answer, for a prompt preview to show


def why_unusable(exc: LLMError, answer: str) -> str:
    """Why the LLM's `answer` ("plan", "narrative", "facts") cannot be used, in Almanac's own
    words for a note or a response (a server's error text stays in the log)."""
    if isinstance(exc, LLMTooSlow):
        return f"the LLM was too slow ({exc.message})"
    if isinstance(exc, LLMAnswerRejected):
        return f"the checks rejected the LLM's {answer} ({'; '.join(exc.reasons)})"
    if isinstance(exc, LLMOutputInvalid):
        return f"the LLM's {answer} did not fit the expected shape ({exc.message})"
    return f"the LLM failed ({exc.message})"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(slots=True)
class LLMCallRecord:
    """What one `complete_json` call cost and how it ended.

    `attempts` counts the HTTP requests sent (retries, the json_object fallback and the
    repair request included); tokens are summed over them; `latency_ms` is wall time of the
    whole call. `cost` is filled only when the provider reports it (OpenRouter's
    `usage.cost`). `reached_model` says whether any request got an answer from the model
    (the daily cap counts only those); `tokens_estimated` that some tokens were counted
    from streamed text because the server did not report usage (a cancelled call);
    `rejection` holds why an answer that fit the schema was rejected by its judge;
    `output_mode` is how JSON was asked for (json_schema, json_object or text).
    """

    operation: str
    model: str
    prompt_template: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0
    cost: float | None = None
    outcome: Outcome = "ok"
    error: str | None = None
    attempts: int = 0
    reached_model: bool = False
    tokens_estimated: bool = False
    rejection: list[str] | None = None
    output_mode: str | None = None


class CallRecorder(Protocol):
    """Where call records go (a database table, a log, a list in tests)."""

    async def record(self, record: LLMCallRecord) -> None: ...


@dataclass
class InMemoryRecorder:
    """Keeps records in a list: for tests and for runs without a database."""

    records: list[LLMCallRecord] = field(default_factory=list)

    async def record(self, record: LLMCallRecord) -> None:
        """Append `record`."""
        self.records.append(record)


class LLMUse(BaseModel):
    """What a response says about the LLM: whether one was used, which, and why not."""

    used: bool
    model: str | None = None
    prompt_template: str | None = None
    prompt_version: str | None = None
    detail: str

    @classmethod
    def of(cls, prompt: Prompt, *, used: bool, model: str | None, detail: str) -> LLMUse:
        """What a response says about a call made with `prompt` (its template and version)."""
        return cls(
            used=used,
            model=model,
            prompt_template=prompt.template,
            prompt_version=prompt.version,
            detail=detail,
        )


@dataclass(frozen=True, slots=True)
class Prompt:
    """The messages for the model and the stored template (name, version) they were
    rendered from: a call is recorded against that version, so versions can be compared."""

    messages: Sequence[Message]
    template: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class StructuredResult(Generic[T]):
    """A validated answer plus the record of the call that produced it."""

    value: T
    record: LLMCallRecord


class LLMClient(ABC):
    """A chat model that answers in JSON validated against a pydantic schema."""

    @abstractmethod
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
        """Ask for a JSON answer to the prompt's messages and validate it against `schema`.

        `judge` checks the content of a valid answer; `budget_seconds` bounds the whole call
        (retries and repair included) and `max_tokens` each answer; both default to the
        operation's settings. Raises `LLMUnavailable` (503) when the server cannot be used
        or the budget runs out, `LLMOutputInvalid` (502) when its answer does not fit
        `schema`, and `LLMAnswerRejected` (a 502 too) when `judge` finds fault with it.
        """

    @abstractmethod
    def model_for(self, operation: str) -> str:
        """The model used for `operation` (planning, scheduling, reflection, extraction)."""

    def budget_for(self, operation: str) -> float | None:
        """Seconds a call of `operation` may take in all (None: no budget)."""
        return None

    @abstractmethod
    async def check(self) -> None:
        """Raise `LLMUnavailable` if the LLM cannot serve requests (used by /health)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients)."""
