"""Background tasks of the Planner: remembering a plan the Memory Gateway could not take.

The rules every task follows (idempotent, state from `jobs.context`) are in `almanac.jobs`.
"""

from __future__ import annotations

import logging

import procrastinate

from almanac.db.uow import unit_of_work
from almanac.jobs.app import Backoff
from almanac.jobs.context import get_state, set_state
from almanac.memory.port import RemoteMemory, memory_port
from almanac.planner.context import (
    REMEMBER_QUEUE,
    REMEMBER_TASK,
    remember_queued_plan,
    remember_queued_plan_remotely,
)

logger = logging.getLogger(__name__)

blueprint = procrastinate.Blueprint()
__all__ = ["blueprint", "get_state", "set_state"]


# Idempotent: the memory goes under the plan's own key (`plan:{id}`) with the content it was
# drafted with, so a rerun, or an earlier attempt the Gateway took before it timed out, is
# stored once. A Gateway still down raises: retried for about a day (backoff capped at an
# hour). A plan gone meanwhile (its client forgotten) is left forgotten.
@blueprint.task(
    name=REMEMBER_TASK.split(":", 1)[1],
    queue=REMEMBER_QUEUE,
    retry=Backoff(max_attempts=30, base_seconds=10.0, max_seconds=3600.0),
)
async def remember_plan(plan_id: int) -> None:
    """Remember a plan made while the (remote) Memory Gateway was unavailable."""
    state = get_state()
    async with unit_of_work(state.sessionmaker) as uow:
        memory = memory_port(uow, state)
        local = not isinstance(memory, RemoteMemory)
        done = await remember_queued_plan(uow, memory, plan_id) if local else False
    if isinstance(memory, RemoteMemory):  # no transaction open while the Gateway is asked
        done = await remember_queued_plan_remotely(state.sessionmaker, memory, plan_id)
    if done:
        logger.info("plan %s remembered", plan_id)
    else:
        logger.info("plan %s is gone (its client forgotten): not remembered", plan_id)
