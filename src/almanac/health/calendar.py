"""The calendar's entry in /health: a cached probe, the last failed request, the schedule
writes waiting for it and what its last read treated specially."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from almanac.health.status import DependencyStatus, optional_failed, timed
from almanac.state import AppState

# Google's probe costs an API call: its answer is reused, so a monitor polling /health
# cannot eat the calendar's daily quota (Risk 3). A CalDAV server is the user's own, with
# no quota: reused 300 s, a server stopped read "ok" for minutes after requests to it
# failed. A failure is re-checked sooner.
CALENDAR_OK_SECONDS = 300.0
OWN_SERVER_OK_SECONDS = 30.0
CALENDAR_DEGRADED_SECONDS = 30.0


def ok_seconds(provider: str) -> float:
    """How long an "ok" answer of `provider`'s probe is reused."""
    return CALENDAR_OK_SECONDS if provider == "google" else OWN_SERVER_OK_SECONDS


async def calendar_status(state: AppState) -> DependencyStatus:
    """The calendar's status: degraded at once after a failed request, else the last
    probe's answer while it is fresh, else one probe shared by concurrent callers."""
    from almanac.calendars.base import LAST_ANSWERED, LAST_FAILURE

    now = time.monotonic()
    cached = state.probes.get("calendar")
    failed = LAST_FAILURE.get("calendar")
    if failed is not None and cached is not None and failed[0] > cached[0]:
        # A request failed after the last probe: degraded at once, re-probed in 30 s.
        status = DependencyStatus(
            status="degraded",
            required=False,
            detail=f"{state.settings.calendar.provider}: a request failed: {failed[1][:250]}",
        )
        state.probes["calendar"] = (failed[0], status)
        return status
    if cached is not None and isinstance(cached[1], DependencyStatus):
        at, status = cached[0], cached[1]
        ok = ok_seconds(state.settings.calendar.provider)
        ttl = ok if status.status == "ok" else CALENDAR_DEGRADED_SECONDS
        # A request answered since a degraded answer: the calendar may be back, ask now.
        back = status.status != "ok" and LAST_ANSWERED.get("calendar", 0.0) > at
        if now - at < ttl and not back:
            return status
    # One probe at a time: a hung one holds a worker thread until the client's own timeout
    # (a thread cannot be cancelled), so each /health meanwhile waits on it rather than
    # starting another, and leaving (the deadline) does not cancel it for the others.
    _, running = state.probes.get("calendar_probe", (now, None))
    if not isinstance(running, asyncio.Task) or running.done():
        running = asyncio.ensure_future(_probe_and_keep(state))
        state.probes["calendar_probe"] = (now, running)
    result: DependencyStatus = await asyncio.shield(running)
    return result


async def _probe_and_keep(state: AppState) -> DependencyStatus:
    status = await _probe_calendar(state)
    # Stamped when it ended: a request the probe itself had answered before it failed
    # (the server, then no such calendar) is no sign of the calendar coming back.
    state.probes["calendar"] = (time.monotonic(), status)
    return status


async def _probe_calendar(state: AppState) -> DependencyStatus:
    from almanac.calendars.factory import configured_calendar

    name = state.settings.calendar.provider
    try:
        async with state.sessionmaker() as session:
            provider = configured_calendar(state, session)
            try:
                _, ms = await timed(provider.check())
            finally:
                await provider.close()
    except Exception as exc:
        return optional_failed(
            exc, "scheduling cannot read busy time or write blocks", provider=name
        )
    return DependencyStatus(status="ok", required=False, detail=name, latency_ms=ms)


# A calendar write that failed for good is shown this long: the blocks it carried are
# missing from the calendar (the jobs list keeps it after that).
FAILED_WRITES_SHOWN_DAYS = 7


async def pending_writes(state: AppState) -> Any:
    """Schedule writes waiting in the queue for a remote calendar, and those failed for
    good; None when the calendar cannot queue (the built-in one writes in the request)."""
    if state.settings.calendar.provider == "builtin":
        return None
    from almanac.jobs.repository import task_backlog
    from almanac.scheduler.pending import TASK

    async def count() -> Any:
        async with state.sessionmaker() as session:
            return await task_backlog(session, TASK, FAILED_WRITES_SHOWN_DAYS)

    try:
        backlog, _ = await timed(count())
    except Exception:  # the database's own entry says why
        return None
    return backlog


def with_pending_writes(status: DependencyStatus, backlog: Any) -> DependencyStatus:
    """The calendar's status, degraded while schedule writes wait in the queue for it or
    have failed for good: the user's calendar is missing those blocks."""
    from almanac.scheduler.pending import TASK

    if backlog is None or (not backlog.pending and not backlog.failed):
        return status
    parts = []
    if backlog.pending:
        n = backlog.pending
        why = f"; last try: {backlog.reason}" if backlog.reason else ""
        parts.append(f"{n} calendar write(s) pending (retried until the calendar answers{why})")
    if backlog.failed:
        parts.append(
            f"{backlog.failed} failed for good in the last {FAILED_WRITES_SHOWN_DAYS} days "
            f"(see GET /api/v1/jobs?task={TASK}&status=failed)"
        )
    detail = f"{'; '.join(parts)}: those blocks are missing from the calendar"
    if status.detail:
        detail = f"{status.detail}; {detail}"
    worst = "down" if status.status == "down" else "degraded"
    return status.model_copy(update={"status": worst, "detail": detail})


def with_notice(status: DependencyStatus) -> DependencyStatus:
    """The calendar's status with what its last read treated specially (a dense series
    read as busy stretches, calendars/runs.py): nothing is lost, so the status stays."""
    from almanac.calendars.base import LAST_NOTICE

    said = LAST_NOTICE.get("calendar")
    if said is None:
        return status
    at, what = said
    notice = f"last read at {at.isoformat(timespec='seconds')}: {what[:250]}"
    detail = f"{status.detail}; {notice}" if status.detail else notice
    return status.model_copy(update={"detail": detail})
