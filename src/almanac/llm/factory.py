"""Choose the LLM client from settings."""

from __future__ import annotations

from typing import assert_never

from almanac.config import LLMSettings, NoLLMSettings, OpenAILLMSettings
from almanac.llm.base import CallRecorder, LLMClient
from almanac.llm.tuning import TuningSource

# Servers without authentication (Ollama, llama.cpp) still need a non-empty key for the SDK.
NO_API_KEY = "not-needed"


def build_llm(
    settings: LLMSettings, recorder: CallRecorder, tuning: TuningSource | None = None
) -> LLMClient | None:
    """The LLM client the settings describe, or None for `none` (no LLM).

    What each provider needs was checked when the settings were read; calls are recorded
    through `recorder`, and `tuning` gives the per-operation choices made at run time.
    """
    match settings:
        case NoLLMSettings():
            return None
        case OpenAILLMSettings():
            # Imported on demand: the openai SDK alone costs ~25 MB of RSS.
            from openai import AsyncOpenAI

            from almanac.llm.openai_compat import OpenAICompatibleLLM

            api_key = settings.api_key.get_secret_value() if settings.api_key else None
            client = AsyncOpenAI(
                base_url=settings.base_url,
                api_key=api_key or NO_API_KEY,
                timeout=settings.timeout_seconds,
                max_retries=0,  # retries, with backoff and records, are the client's own
            )
            return OpenAICompatibleLLM.from_settings(
                settings, client=client, recorder=recorder, owns_client=True, tuning=tuning
            )
        case _:
            assert_never(settings)
