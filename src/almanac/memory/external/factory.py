"""Choosing the external memory from settings; one instance per process."""

from __future__ import annotations

from almanac.config import ZepSettings
from almanac.memory.external.base import ExternalMemory
from almanac.state import AppState


def build_external(settings: ZepSettings) -> ExternalMemory | None:
    """Zep when an API key is set, else None (Almanac then never calls out)."""
    match settings:
        case ZepSettings(api_key=None):
            return None
        case ZepSettings():
            from almanac.memory.external.zep import ZepMemory

            return ZepMemory(settings)


def external_memory(state: AppState) -> ExternalMemory | None:
    """The state's external memory, built on first use and closed with the state."""
    if state.external is None:
        if state.settings.zep.api_key is None:
            return None
        state.external = build_external(state.settings.zep)
    assert state.external is None or isinstance(state.external, ExternalMemory)
    return state.external


def zep_user_id(client_id: int | None, default: str) -> str:
    """The Zep user a memory belongs to: one per client, the owner's otherwise."""
    return f"client-{client_id}" if client_id is not None else default


def zep_thread_id(user_id: str, session_id: str | None) -> str:
    """One Zep thread per (user, session); memories without a session share one."""
    return f"{user_id}.{session_id or 'default'}"


def zep_thread_user(thread_id: str) -> str:
    """The user a thread of `zep_thread_id` belongs to."""
    return thread_id.split(".", 1)[0]


def zep_user_client(user_id: str, default: str) -> tuple[bool, int | None]:
    """The inverse of `zep_user_id`: (whether `user_id` is one of Almanac's, its client or
    None for the owner's)."""
    if user_id == default:
        return True, None
    number = user_id.removeprefix("client-")
    if number != user_id and number.isdigit():
        return True, int(number)
    return False, None
