"""Background tasks of the Memory Gateway: retention archives and deletes old events.

The rules every task follows (idempotent, state from `jobs.context`) are in `almanac.jobs`.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate

from almanac.jobs.app import Backoff
from almanac.jobs.context import get_state, set_state
from almanac.memory.external.base import ExternalUnavailable
from almanac.memory.retention import run_retention

logger = logging.getLogger(__name__)

blueprint = procrastinate.Blueprint()
__all__ = ["blueprint", "get_state", "set_state"]

# Zep away (down, rate limited, failing) for longer than the attempts' backoff (about 20
# minutes for a send, 3 hours for a deletion) must not end a job: a send's memory would
# never reach Zep, and a forgotten subject's data would stay there and come back into
# recall once no deletion is queued. Retried every 15 minutes until Zep serves again.
ZEP_AWAY = (ExternalUnavailable,)


# Idempotent: a second run finds nothing older than the cut-off left to archive.
@blueprint.task(name="retention", queue="maintenance", retry=Backoff(max_attempts=3))
async def retention(days: int | None = None) -> None:
    """Archive and delete events older than `days` (default: settings) that are not facts."""
    report = await run_retention(get_state(), days=days)
    logger.info(
        "retention: %d events archived and deleted, %d entity nodes pruned, "
        "%d ended facts left the graph (cut-off %s)",
        report.deleted,
        report.pruned,
        report.ended_facts,
        report.cutoff,
    )


# Idempotent: see `send_event`. Zep being down raises, and the job is retried with backoff
# (without end while Zep is away, `ZEP_AWAY`).
@blueprint.task(
    name="zep_send", queue="zep", retry=Backoff(max_attempts=8, base_seconds=5.0, forever=ZEP_AWAY)
)
async def zep_send(event_id: int) -> None:
    """Send one salient memory to Zep Cloud (a no-op when Zep is not configured)."""
    from almanac.memory.external.sync import send_event

    await send_event(get_state(), event_id)


@blueprint.task(
    name="zep_fact", queue="zep", retry=Backoff(max_attempts=8, base_seconds=5.0, forever=ZEP_AWAY)
)
async def zep_fact(fact_id: int) -> None:
    """Write one Almanac fact into its user's Zep graph (idempotent, like `zep_send`)."""
    from almanac.memory.external.sync import send_fact

    await send_fact(get_state(), fact_id)


# Idempotent: it sets the same dates again. Retried while Zep has not yet learnt from the
# fact's episode (it does so in the background), and while Zep is down.
@blueprint.task(
    name="zep_fact_dates",
    queue="zep",
    retry=Backoff(max_attempts=10, base_seconds=5.0, forever=ZEP_AWAY),
)
async def zep_fact_dates(fact_id: int) -> None:
    """Give what Zep learnt from one Almanac fact the fact's validity (its end, once ended)."""
    from almanac.memory.external.sync import send_fact_dates

    await send_fact_dates(get_state(), fact_id)


# Idempotent: deleting what is already gone in Zep is a success, and re-sending survivors
# skips those already back in Zep (see `send_event`). Retried with a capped backoff, and
# without end while Zep is away.
@blueprint.task(
    name="zep_forget",
    queue="zep",
    retry=Backoff(max_attempts=20, base_seconds=5.0, forever=ZEP_AWAY),
)
async def zep_forget(what: dict[str, Any]) -> None:
    """Delete a forgotten subject's data in Zep, then re-send what Almanac still keeps."""
    from almanac.db.uow import unit_of_work
    from almanac.memory.external.factory import external_memory
    from almanac.memory.external.forget import ExternalForget, run_job

    state = get_state()
    provider = external_memory(state)
    if provider is None:
        return
    async with unit_of_work(state.sessionmaker) as uow:
        resent = await run_job(
            provider, uow.session, ExternalForget(**what), state.settings.zep.default_user_id
        )
    logger.info("zep: forgotten subject deleted, %d memories queued to be sent again", resent)
