"""SQL over procrastinate's tables, for the job status API and `almanac jobs list`, and over
the periodic jobs' markers (`job_schedules`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import JobSchedule

STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted")

_COLUMNS = """
    j.id, j.queue_name AS queue, j.task_name AS task, j.status::text AS status, j.attempts,
    j.args, j.lock, j.queueing_lock, j.scheduled_at,
    (SELECT min(e.at) FROM procrastinate_events e
      WHERE e.job_id = j.id AND e.type = 'deferred') AS deferred_at,
    (SELECT max(e.at) FROM procrastinate_events e
      WHERE e.job_id = j.id AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted'))
      AS finished_at,
    (SELECT r.reason FROM job_reasons r WHERE r.job_id = j.id) AS reason
"""


async def list_jobs(
    session: AsyncSession, *, status: str | None, task: str | None, limit: int
) -> Sequence[Row[Any]]:
    """Jobs, newest first, optionally of one status and task."""
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        where.append("j.status::text = :status")
        params["status"] = status
    if task is not None:
        where.append("j.task_name = :task")
        params["task"] = task
    sql = (
        f"SELECT {_COLUMNS} FROM procrastinate_jobs j WHERE {' AND '.join(where)} "
        "ORDER BY j.id DESC LIMIT :limit"
    )
    return (await session.execute(text(sql), params)).all()


async def get_job(session: AsyncSession, job_id: int) -> Row[Any] | None:
    """One job, or None."""
    sql = f"SELECT {_COLUMNS} FROM procrastinate_jobs j WHERE j.id = :id"
    return (await session.execute(text(sql), {"id": job_id})).one_or_none()


async def job_events(session: AsyncSession, job_id: int) -> Sequence[Row[Any]]:
    """A job's history (deferred, started, deferred_for_retry, succeeded...), oldest first."""
    sql = (
        "SELECT type::text AS type, at FROM procrastinate_events WHERE job_id = :id ORDER BY at, id"
    )
    return (await session.execute(text(sql), {"id": job_id})).all()


async def set_reason(session: AsyncSession, job_id: int, reason: str) -> None:
    """Keep why a job is waiting or failed (shown in the jobs list)."""
    await session.execute(
        text(
            "INSERT INTO job_reasons (job_id, reason) VALUES (:id, :reason) "
            "ON CONFLICT (job_id) DO UPDATE SET reason = EXCLUDED.reason, updated_at = now()"
        ),
        {"id": job_id, "reason": reason[:2000]},
    )


async def clear_reason(session: AsyncSession, job_id: int) -> None:
    """The job got through: no reason to show any more."""
    await session.execute(text("DELETE FROM job_reasons WHERE job_id = :id"), {"id": job_id})


# Busy spells a job may wait out uncounted; past them each counts as a failed attempt, so a
# lock that is never free (a deadlock met every time) ends the job instead of a retry loop.
MAX_BUSY_RETRIES = 30


async def uncount_attempt(session: AsyncSession, job_id: int) -> bool:
    """Take back the attempt procrastinate is about to count for a running job's retry
    (its retry adds one): a `Busy` retry is no failure and must not use up the budget,
    for `MAX_BUSY_RETRIES` of them. False when the budget of busy retries is spent."""
    # Retries so far, less those counted as attempts, are the busy ones.
    result = await session.execute(
        text(
            "UPDATE procrastinate_jobs SET attempts = attempts - 1 "
            "WHERE id = :id AND status = 'doing' AND ("
            "  SELECT count(*) FROM procrastinate_events "
            "  WHERE job_id = :id AND type = 'deferred_for_retry'"
            ") - attempts < :most"
        ),
        {"id": job_id, "most": MAX_BUSY_RETRIES},
    )
    return bool(getattr(result, "rowcount", 0))


async def delete_queued_for_events(session: AsyncSession, event_ids: Sequence[int]) -> int:
    """Jobs not yet started whose arguments name one of these events."""
    return await delete_queued_naming(session, "event_id", event_ids)


async def delete_queued_naming(
    session: AsyncSession, arg: str, values: Sequence[int], task: str | None = None
) -> int:
    """Jobs (of `task`, or any) not yet started, or waiting for a retry, whose argument
    `arg` is one of `values`: what they would write is being deleted."""
    if not values:
        return 0
    sql = (
        "DELETE FROM procrastinate_jobs WHERE status = 'todo' "
        "AND args->>:arg = ANY(CAST(:ids AS text[]))"
    )
    params: dict[str, Any] = {"arg": arg, "ids": [str(i) for i in values]}
    if task is not None:
        sql += " AND task_name = :task"
        params["task"] = task
    result = await session.execute(text(sql + " RETURNING id"), params)
    return len(result.all())


async def pending_touching(session: AsyncSession, task: str, user: str) -> bool:
    """Whether a job of `task` waits, runs or waits for a retry whose `what` names the
    external user `user` (in `users`) or one of its threads (`threads`, `<user>.<name>`)."""
    sql = """
        SELECT EXISTS (
          SELECT 1 FROM procrastinate_jobs
           WHERE task_name = :task AND status IN ('todo', 'doing')
             AND (args->'what'->'users' ? :user
                  OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(args->'what'->'threads')
                              AS thread WHERE starts_with(thread, :prefix))))
    """
    params = {"task": task, "user": user, "prefix": f"{user}."}
    return bool(await session.scalar(text(sql), params))


async def plan_has_queued(session: AsyncSession, task: str, plan_id: int, run_id: int) -> bool:
    """Whether a job of `task` naming `plan_id` in its `runs` argument waits or runs, or
    one naming its run `run_id` ended without succeeding (its retries spent, cancelled)."""
    sql = """
        SELECT EXISTS (SELECT 1 FROM procrastinate_jobs
                        WHERE task_name = :task AND args->'runs' ? :plan
                          AND (status IN ('todo', 'doing')
                               OR (status <> 'succeeded' AND args->'runs'->>:plan = :run)))
    """
    params = {"task": task, "plan": str(plan_id), "run": str(run_id)}
    return bool(await session.scalar(text(sql), params))


async def task_backlog(session: AsyncSession, task: str, failed_within_days: int) -> Row[Any]:
    """How many jobs of `task` are still waiting or running (`pending`), and how many
    failed for good in the last `failed_within_days` days (`failed`; older failures are
    history, still in the jobs list); `reason`: the newest reason a pending one gave."""
    sql = """
        SELECT count(*) FILTER (WHERE j.status IN ('todo', 'doing')) AS pending,
               (SELECT r.reason FROM job_reasons r JOIN procrastinate_jobs p ON p.id = r.job_id
                 WHERE p.task_name = :task AND p.status IN ('todo', 'doing')
                 ORDER BY r.updated_at DESC LIMIT 1) AS reason,
               count(*) FILTER (WHERE j.status = 'failed' AND EXISTS (
                   SELECT 1 FROM procrastinate_events e
                    WHERE e.job_id = j.id AND e.type = 'failed'
                      AND e.at >= now() - make_interval(days => :days))) AS failed
          FROM procrastinate_jobs j
         WHERE j.task_name = :task AND j.status IN ('todo', 'doing', 'failed')
    """
    return (await session.execute(text(sql), {"task": task, "days": failed_within_days})).one()


class ScheduleRepository:
    """The periodic jobs' markers: the last due time each one deferred."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str, cron: str, due: datetime) -> None:
        """A marker at `due` for a job seen for the first time (else nothing)."""
        await self.session.execute(
            insert(JobSchedule)
            .values(name=name, cron=cron, last_due_at=due)
            .on_conflict_do_nothing(index_elements=["name"])
        )

    async def lock(self, name: str) -> Row[datetime | None, str]:
        """The marker's (last_due_at, cron), its row locked until the transaction ends."""
        stmt = (
            select(JobSchedule.last_due_at, JobSchedule.cron)
            .where(JobSchedule.name == name)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).one()

    async def set(self, name: str, **values: Any) -> None:
        """Change the marker's columns (`cron`, `last_due_at`, `last_job_id`)."""
        await self.session.execute(
            update(JobSchedule).where(JobSchedule.name == name).values(**values)
        )
