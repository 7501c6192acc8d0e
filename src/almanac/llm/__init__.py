"""LLM clients: chat messages in, JSON validated against a pydantic schema out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from almanac.llm.base import (
    CallRecorder,
    InMemoryRecorder,
    LLMCallRecord,
    LLMClient,
    LLMOutputInvalid,
    LLMUnavailable,
    Message,
    Outcome,
    StructuredResult,
)
from almanac.llm.circuit import CircuitBreaker
from almanac.llm.factory import build_llm

if TYPE_CHECKING:
    from almanac.llm.openai_compat import OpenAICompatibleLLM


def __getattr__(name: str) -> Any:
    # The openai SDK is heavy; load it only for those who use the OpenAI-compatible provider.
    if name == "OpenAICompatibleLLM":
        from almanac.llm.openai_compat import OpenAICompatibleLLM

        return OpenAICompatibleLLM
    raise AttributeError(name)


__all__ = [
    "CallRecorder",
    "CircuitBreaker",
    "InMemoryRecorder",
    "LLMCallRecord",
    "LLMClient",
    "LLMOutputInvalid",
    "LLMUnavailable",
    "Message",
    "OpenAICompatibleLLM",
    "Outcome",
    "StructuredResult",
    "build_llm",
]
