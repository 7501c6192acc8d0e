"""Memory as a request dependency: the one place a request's memory port is chosen."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from almanac.deps import State, UoW
from almanac.memory.port import MemoryPort, memory_port


def get_memory_port(uow: UoW, state: State) -> MemoryPort:
    """In-process on the request's unit of work, or the Gateway over HTTP."""
    return memory_port(uow, state)


# scope="function": it depends on the request's unit of work, which is function-scoped.
Memory = Annotated[MemoryPort, Depends(get_memory_port, scope="function")]
