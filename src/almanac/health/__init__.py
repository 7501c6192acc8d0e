"""GET /health: the status of every dependency."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from almanac import __version__
from almanac.auth.deps import MaybePrincipal
from almanac.config import configured_secrets
from almanac.deps import State
from almanac.health.calendar import (
    calendar_status,
    pending_writes,
    with_notice,
    with_pending_writes,
)
from almanac.health.status import PROBE_TIMEOUT, failure, optional_failed, timed
from almanac.health.status import DependencyStatus as DependencyStatus
from almanac.redact import redact
from almanac.state import AppState

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    services: list[str]
    dependencies: dict[str, DependencyStatus]


async def _database(state: AppState) -> DependencyStatus:
    async def ping() -> None:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        _, ms = await timed(ping())
    except Exception as exc:
        full = _pool_full(state.engine)
        if full is not None:
            # Postgres served every connection held: busy (requests answer 503 Busy for the
            # moment), not down, so a container health check does not restart the server.
            return DependencyStatus(status="degraded", required=True, detail=full)
        return DependencyStatus(status="down", required=True, detail=failure(exc)[:300])
    kind = "embedded" if state.embedded_pg is not None else "external"
    return DependencyStatus(status="ok", required=True, detail=kind, latency_ms=ms)


async def _cache(state: AppState) -> DependencyStatus:
    try:
        status, ms = await timed(state.cache.check())
    except Exception as exc:  # a paused server: its socket timeout may exceed the probe's
        status = failure(exc)
    if status == "ok":
        return DependencyStatus(
            status="ok", required=False, detail=state.cache.backend, latency_ms=ms
        )
    return DependencyStatus(
        status="degraded",
        required=False,
        detail=f"{state.cache.backend}: {status}; serving without cache",
    )


async def _embedder(state: AppState) -> DependencyStatus:
    try:
        _, ms = await timed(state.embedder.check())
    except Exception as exc:
        return DependencyStatus(status="down", required=True, detail=failure(exc)[:300])
    return DependencyStatus(status="ok", required=True, detail=state.embedder.model, latency_ms=ms)


def _pool_full(engine: Any) -> str | None:
    """Why the probe got no connection when every pooled one is checked out, else None."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    most = pool.size() + max(0, pool._max_overflow)
    if pool.checkedout() < most:
        return None
    return (
        f"every pooled connection is in use ({pool.checkedout()} of {most}): requests "
        "answer 503 Busy until one is free (database.pool_size, __max_overflow)"
    )


async def _llm(state: AppState) -> DependencyStatus:
    if state.llm is None:
        return DependencyStatus(
            status="not_configured",
            required=False,
            detail="no LLM configured: planning and reflection run deterministically",
        )
    try:
        _, ms = await timed(state.llm.check())
    except Exception as exc:
        return optional_failed(exc, "planning falls back to the workflow library")
    return DependencyStatus(
        status="ok", required=False, detail=state.llm.model_for("planning"), latency_ms=ms
    )


async def _zep(state: AppState) -> DependencyStatus:
    from almanac.memory.external.base import ExternalUnreachable
    from almanac.memory.external.factory import external_memory

    provider = external_memory(state)
    if provider is None:
        return DependencyStatus(
            status="not_configured",
            required=False,
            detail="no Zep API key: memory lives in Postgres alone",
        )
    try:
        _, ms = await timed(provider.check())
    except (ExternalUnreachable, TimeoutError) as exc:
        detail = str(exc) or type(exc).__name__
        return DependencyStatus(
            status="down",
            required=False,
            detail=f"{detail[:250]}; recall answers from Postgres, sends wait in the queue",
        )
    except Exception as exc:
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{str(exc)[:250]}; recall answers from Postgres, sends are retried",
        )
    budget = state.settings.zep.recall_budget_ms
    if ms > budget:
        # Up, but slower than recall waits for it: every recall would skip it.
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"zep answered in {ms:g} ms, past recall's budget of {budget} ms "
            "(ALMANAC_ZEP__RECALL_BUDGET_MS): recall answers from Postgres",
            latency_ms=ms,
        )
    skipped = provider.last_skip
    if skipped is not None:
        # The probe's lookup passed, but recall's last search did not: search as it did, so
        # this entry follows Zep's search both ways (still failing, or back).
        try:
            await asyncio.wait_for(
                provider.search(skipped[2], "almanac health probe", 1),
                min(budget / 1000, PROBE_TIMEOUT),
            )
        except Exception as exc:
            why = f"no answer within {budget} ms" if isinstance(exc, TimeoutError) else str(exc)
            return DependencyStatus(
                status="degraded",
                required=False,
                detail=f"recall's search of zep fails ({why[:250]}): recall answers from Postgres",
                latency_ms=ms,
            )
        provider.last_skip = None
    return DependencyStatus(status="ok", required=False, detail="zep cloud", latency_ms=ms)


async def _memory_gateway(state: AppState) -> DependencyStatus:
    """The Memory Gateway this Planner reaches over HTTP (two-process mode): its own
    /health, and whether a call to it failed since."""
    from almanac.memory.client import gateway

    client = gateway(state)
    where = client.where
    without = "plans are made without memory context and say so"
    try:
        (code, body), ms = await timed(client.health(), limit=None)
    except TimeoutError:
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{where} did not answer within {client.deadline:g} s; {without}",
        )
    except httpx.HTTPError as exc:
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{where} unreachable ({type(exc).__name__}); {without}",
        )
    theirs = body.get("status") if isinstance(body, dict) else None
    if code == 200 and theirs is not None and "dependencies" not in body:
        # The summary a caller without a valid key gets: the Gateway is up, but it refuses
        # the Planner's key, so every memory call fails however well the Gateway is.
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{where} did not accept the Planner's key (server.memory_gateway_key, "
            f"else the data folder's planner-gateway-key or api-key); {without}",
            latency_ms=ms,
        )
    if code == 200 and (refused := await client.key_problem()) is not None:
        # A valid key that may only read: /health was ok while remembering plans was a 503.
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{where} {refused}; plans are not remembered",
            latency_ms=ms,
        )
    if code == 200 and theirs == "ok":
        return DependencyStatus(status="ok", required=False, detail=where, latency_ms=ms)
    if code == 200 and theirs == "degraded":
        return DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{where} is degraded (see its /health)",
            latency_ms=ms,
        )
    said = f"answered {code}" + (f" ({theirs})" if theirs else "")
    if body is None:  # as a plan's note says it: a proxy's page, or no Gateway there
        said += " with something that is not JSON"
    return DependencyStatus(status="degraded", required=False, detail=f"{where} {said}; {without}")


# /health answers within this however many dependencies hang at once: a probe still
# running then is reported as not answering (and left to finish in the background).
HEALTH_DEADLINE_SECONDS = PROBE_TIMEOUT + 1.0

# What a dependency that gave no answer by the deadline costs (status, required, cost).
_SILENT = {
    "database": ("down", True, "nothing can be read or stored"),
    "cache": ("degraded", False, "serving without cache"),
    "embedder": ("down", True, "nothing can be remembered or recalled"),
    "llm": ("degraded", False, "planning falls back to the workflow library"),
    "zep": ("degraded", False, "recall answers from Postgres"),
    "calendar": ("degraded", False, "scheduling cannot read busy time or write blocks"),
    "memory_gateway": ("degraded", False, "plans are made without memory context"),
}


async def _gather_bounded(probes: dict[str, Any]) -> dict[str, Any]:
    """Run `probes` concurrently; those not done by the deadline are cancelled without
    waiting for them (a hung driver's clean-up must not hold /health) and answer None, as
    do those that raised."""
    tasks = {name: asyncio.ensure_future(coro) for name, coro in probes.items()}
    await asyncio.wait(tasks.values(), timeout=HEALTH_DEADLINE_SECONDS)
    results: dict[str, Any] = {}
    for name, task in tasks.items():
        if task.done():
            failed = task.exception()
            if failed is not None:
                logger.warning("health probe %s failed: %r", name, failed)
            results[name] = None if failed is not None else task.result()
        else:
            task.cancel()
            task.add_done_callback(_quietly)
            results[name] = None
    return results


def _quietly(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


async def check_health(state: AppState, services: list[str]) -> HealthOut:
    """Probe every dependency concurrently, within HEALTH_DEADLINE_SECONDS in all."""
    probes: dict[str, Any] = {
        "database": _database(state),
        "cache": _cache(state),
        "embedder": _embedder(state),
        "llm": _llm(state),
        "zep": _zep(state),
    }
    if state.settings.server.memory_gateway_url and "planner" in services:
        probes["memory_gateway"] = _memory_gateway(state)
    if "planner" in services:
        probes["calendar"] = calendar_status(state)
        probes["calendar_writes"] = pending_writes(state)
    results = await _gather_bounded(probes)
    backlog = results.pop("calendar_writes", None)
    deps: dict[str, DependencyStatus] = {}
    for name, result in results.items():
        if result is None:  # no answer in time (or the probe itself failed)
            status, required, cost = _SILENT[name]
            result = DependencyStatus(
                status=status,
                required=required,
                detail=f"no answer within {HEALTH_DEADLINE_SECONDS:g} s; {cost}",
            )
        deps[name] = result
    if "calendar" in deps:
        deps["calendar"] = with_notice(with_pending_writes(deps["calendar"], backlog))
    # Probe errors can quote a URL with its password, or a key: never shown.
    secrets = configured_secrets(state.settings)
    deps = {
        name: d.model_copy(update={"detail": redact(d.detail, secrets)}) if d.detail else d
        for name, d in deps.items()
    }
    if any(d.required and d.status == "down" for d in deps.values()):
        overall: Literal["ok", "degraded", "down"] = "down"
    elif any(d.status in ("degraded", "down") for d in deps.values()):
        overall = "degraded"
    else:
        overall = "ok"
    return HealthOut(status=overall, version=__version__, services=services, dependencies=deps)


class HealthSummaryOut(BaseModel):
    """What /health tells a caller without a key."""

    status: Literal["ok", "degraded", "down"]


@router.get("/health", response_model=HealthOut | HealthSummaryOut)
async def health(state: State, principal: MaybePrincipal) -> JSONResponse:
    """200 when usable (possibly degraded), 503 when a required dependency is down.

    Without a key only the overall status: the detail names hosts, models and versions.
    """
    out = await check_health(state, state.services)
    body = out.model_dump(mode="json") if principal is not None else {"status": out.status}
    return JSONResponse(body, status_code=503 if out.status == "down" else 200)
