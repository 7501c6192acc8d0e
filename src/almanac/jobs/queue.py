"""Deferring jobs through Almanac's own session, inside the caller's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.errors import Conflict, ValidationFailed

# procrastinate's own defer function: its triggers (NOTIFY, events) fire as usual, and the
# NOTIFY is only delivered when our transaction commits, so a rolled-back request leaves
# no job and wakes no worker.
_DEFER = text(
    """
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(
        CAST(:queue AS varchar), CAST(:task AS varchar), CAST(:priority AS integer),
        CAST(:lock AS text), CAST(:queueing_lock AS text), CAST(:args AS jsonb),
        CAST(:scheduled_at AS timestamptz)
    )::procrastinate_job_to_defer_v1]))
    """
)


class JobAlreadyQueued(Conflict):
    """A job with the same queueing lock is still waiting to run."""


async def enqueue(
    session: AsyncSession,
    task_name: str,
    *,
    args: dict[str, Any],
    queue: str = "default",
    lock: str | None = None,
    queueing_lock: str | None = None,
    schedule_at: datetime | None = None,
    priority: int = 0,
) -> int:
    """Defer `task_name(**args)` in `session`'s transaction; returns the job id.

    The job exists only if the transaction commits. A `queueing_lock` already held by a
    waiting job raises `JobAlreadyQueued` and leaves the transaction usable.
    """
    if schedule_at is not None and schedule_at.tzinfo is None:
        raise ValidationFailed("schedule_at must carry a time zone", field="schedule_at")
    params = {
        "queue": queue,
        "task": task_name,
        "priority": priority,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": json.dumps(args),
        "scheduled_at": schedule_at,
    }
    try:
        # A savepoint, so a duplicate queueing lock does not abort the caller's transaction.
        async with session.begin_nested():
            job_id = (await session.execute(_DEFER, params)).scalar_one()
    except IntegrityError as exc:
        if "queueing_lock" in str(exc.orig):
            raise JobAlreadyQueued(
                f"a {task_name} job with queueing lock {queueing_lock!r} is already waiting"
            ) from exc
        raise
    return int(job_id)


_DEFER_MANY = text(
    """
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW(
            CAST(:queue AS varchar), CAST(:task AS varchar), 0, NULL::text, NULL::text,
            a, NULL::timestamptz
        )::procrastinate_job_to_defer_v1
        FROM unnest(CAST(:args AS jsonb[])) AS a
    )))
    """
)


async def enqueue_many(
    session: AsyncSession, task_name: str, args: list[dict[str, Any]], *, queue: str = "default"
) -> list[int]:
    """Defer one job per `args` item in one statement, in `session`'s transaction."""
    if not args:
        return []
    params = {"queue": queue, "task": task_name, "args": [json.dumps(a) for a in args]}
    return [int(i) for i in (await session.execute(_DEFER_MANY, params)).scalars()]
