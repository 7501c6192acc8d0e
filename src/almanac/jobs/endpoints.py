"""Job status under /api/v1/jobs: what ran, what failed, how many attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from almanac.auth.deps import AdminOnly
from almanac.deps import UoW
from almanac.errors import NotFound
from almanac.jobs import repository

# The queue shows every job's arguments: admin only.
router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[AdminOnly])

Status = Literal["todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted"]


class JobOut(BaseModel):
    """One job of the queue."""

    id: int
    queue: str
    task: str
    status: Status
    attempts: int
    args: dict[str, Any]
    lock: str | None
    queueing_lock: str | None
    scheduled_at: datetime | None
    deferred_at: datetime | None
    finished_at: datetime | None


class JobEventOut(BaseModel):
    """One step of a job's history."""

    type: str
    at: datetime | None


class JobDetailOut(JobOut):
    """A job with its history."""

    events: list[JobEventOut]


@router.get("")
async def list_jobs(
    uow: UoW,
    status: Status | None = None,
    task: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    """Jobs, newest first."""
    rows = await repository.list_jobs(uow.session, status=status, task=task, limit=limit)
    return [JobOut.model_validate(r._asdict()) for r in rows]


@router.get("/{job_id}")
async def get_job(uow: UoW, job_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> JobDetailOut:
    """One job and its history (deferred, started, retried, finished)."""
    row = await repository.get_job(uow.session, job_id)
    if row is None:
        raise NotFound(f"job {job_id} not found")
    events = await repository.job_events(uow.session, job_id)
    return JobDetailOut(
        **row._asdict(), events=[JobEventOut.model_validate(e._asdict()) for e in events]
    )
