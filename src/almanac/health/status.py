"""What each /health probe answers, and the helpers every probe shares."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel

PROBE_TIMEOUT = 2.0


class DependencyStatus(BaseModel):
    status: Literal["ok", "degraded", "down", "not_configured"]
    required: bool
    detail: str | None = None
    latency_ms: float | None = None


async def timed(coro: Any, limit: float | None = PROBE_TIMEOUT) -> tuple[Any, float]:
    """`coro`'s result and milliseconds; `limit` None when the client keeps its own deadline."""
    started = time.perf_counter()
    result = await asyncio.wait_for(coro, limit)
    return result, round((time.perf_counter() - started) * 1000, 2)


def failure(exc: Exception) -> str:
    """Why a probe failed, in words (a timeout has no message of its own)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT:g} s"
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def optional_failed(exc: Exception, consequence: str, provider: str = "") -> DependencyStatus:
    """An optional dependency whose probe failed: degraded, with why and what it costs."""
    detail = failure(exc)
    where = f"{provider}: " if provider else ""
    return DependencyStatus(
        status="degraded", required=False, detail=f"{where}{detail[:250]}; {consequence}"
    )
