"""The process's AppState, for background tasks: the worker sets it once at start-up.

procrastinate calls tasks with their JSON arguments only, so tasks reach the database,
cache and providers through this holder, as requests do through the lifespan state.
"""

from __future__ import annotations

from almanac.state import AppState

_state: AppState | None = None


def set_state(state: AppState | None) -> None:
    """Give the tasks the worker's AppState (None forgets it, e.g. at shutdown)."""
    global _state
    _state = state


def get_state() -> AppState:
    """The AppState set by the worker; a clear error when it was never set."""
    if _state is None:
        raise RuntimeError(
            "background tasks need the AppState: call almanac.jobs.context.set_state(state) "
            "when the worker starts"
        )
    return _state
