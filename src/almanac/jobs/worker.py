"""Running jobs: `almanac worker`, or a worker inside `almanac serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import procrastinate
from procrastinate.app import WorkerOptions

from almanac.jobs import context
from almanac.jobs.app import build_app
from almanac.jobs.clock import run_clock
from almanac.state import AppState

logger = logging.getLogger(__name__)

# Running jobs get this long to finish when the worker stops; then they are aborted.
SHUTDOWN_GRACE_SECONDS = 10.0


def database_url(state: AppState) -> str:
    """The URL the state's engine uses (the embedded server's when embedded)."""
    return state.engine.url.render_as_string(hide_password=False)


def _share_state(state: AppState | None) -> None:
    context.set_state(state)


Blueprints = Iterable[tuple[procrastinate.Blueprint, str]]


async def run_worker(
    state: AppState,
    blueprints: Blueprints,
    *,
    app: procrastinate.App | None = None,
    concurrency: int | None = None,
    queues: Iterable[str] | None = None,
    clock: bool = True,
    install_signal_handlers: bool = True,
    name: str = "almanac",
) -> None:
    """Run jobs (and, with `clock`, periodic jobs and stalled-job recovery) until stopped.

    Cancelling the coroutine stops the worker gracefully.
    """
    settings = state.settings.jobs
    app = app or build_app(state.settings, database_url(state), blueprints)
    options: WorkerOptions = {
        "name": name,
        "concurrency": concurrency or settings.concurrency,
        "install_signal_handlers": install_signal_handlers,
        "fetch_job_polling_interval": settings.poll_interval_seconds,
        "abort_job_polling_interval": settings.poll_interval_seconds,
        # Heartbeats well inside the stalled limit, so a busy worker is never taken for dead.
        "update_heartbeat_interval": min(10.0, settings.stalled_after_seconds / 3),
        "stalled_worker_timeout": settings.stalled_after_seconds,
        "shutdown_graceful_timeout": SHUTDOWN_GRACE_SECONDS,
    }
    if chosen := list(queues or settings.queues):  # none given: every queue
        options["queues"] = chosen
    _share_state(state)
    async with app.open_async():
        ticker = (
            asyncio.create_task(run_clock(app, state.sessionmaker, state.settings))
            if clock
            else None
        )
        try:
            await app.run_worker_async(**options)
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("embedded worker stopped: %s", exc, exc_info=exc)


async def start_embedded_worker(
    state: AppState, blueprints: Blueprints
) -> asyncio.Task[None] | None:
    """Start a worker inside this process (for `almanac serve`); None when disabled."""
    if not state.settings.jobs.embedded_worker:
        return None
    task = asyncio.create_task(
        run_worker(state, blueprints, install_signal_handlers=False, name="almanac-embedded"),
        name="almanac-embedded-worker",
    )
    task.add_done_callback(_log_end)
    return task


async def stop_embedded_worker(
    task: asyncio.Task[None] | None, wait_seconds: float = SHUTDOWN_GRACE_SECONDS + 5
) -> None:
    """Stop a worker from `start_embedded_worker`, letting running jobs finish briefly.

    A cancel that lands while the worker is between its own steps can be swallowed (seen
    as a shutdown that never ended): so each wait is bounded, and the worker is cancelled
    again, up to three times, before it is left to the event loop's end."""
    if task is None or task.done():
        return
    for _ in range(3):
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=wait_seconds)
        if done:
            break
        logger.warning("embedded worker still running %gs after a cancel; again", wait_seconds)
    else:
        logger.error("embedded worker did not stop after three cancels")
    _share_state(None)
