"""The LLM interface: messages in, a validated pydantic object out, every call recorded."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from almanac.errors import AlmanacError, DependencyUnavailable

T = TypeVar("T", bound=BaseModel)

Role = Literal["system", "user", "assistant"]
Outcome = Literal["ok", "repaired", "invalid", "error", "rate_limited", "timeout", "circuit_open"]


class LLMUnavailable(DependencyUnavailable):
    """The LLM could not be reached, kept failing, or its circuit breaker is open."""

    title = "LLM unavailable"


class LLMOutputInvalid(AlmanacError):
    """The LLM answered, but not with JSON matching the schema (even after one repair)."""

    status_code = 502
    title = "LLM output invalid"


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
    `usage.cost`).
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
        messages: Sequence[Message],
        schema: type[T],
        prompt_template: str | None = None,
        prompt_version: str | None = None,
    ) -> StructuredResult[T]:
        """Ask for a JSON answer to `messages` and validate it against `schema`.

        Raises `LLMUnavailable` (503) when the server cannot be used and `LLMOutputInvalid`
        (502) when its answer does not fit `schema`.
        """

    @abstractmethod
    def model_for(self, operation: str) -> str:
        """The model used for `operation` (planning, scheduling, reflection, extraction)."""

    @abstractmethod
    async def check(self) -> None:
        """Raise `LLMUnavailable` if the LLM cannot serve requests (used by /health)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients)."""
