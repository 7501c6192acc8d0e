"""Opening the process's state: storage and providers, then the data every start ensures."""

from __future__ import annotations

from almanac.config import Settings
from almanac.ontology.starter import load_starter_library
from almanac.state import AppState, build_state


async def open_state(settings: Settings, *, migrate: bool = True) -> AppState:
    """`build_state`, then the starter workflow library (added or refreshed, never
    overwriting the user's edits) so planning works on a fresh install."""
    state = await build_state(settings, migrate=migrate)
    if migrate and settings.planner.starter_library:
        try:
            await load_starter_library(state.sessionmaker)
        except BaseException:
            await state.close()
            raise
    return state
