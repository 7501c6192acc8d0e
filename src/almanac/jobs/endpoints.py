"""Job status under /api/v1/jobs: what ran, what failed, how many attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from almanac.auth.deps import AdminOnly
from almanac.deps import UoW
from almanac.jobs.schemas import JobDetailOut, JobOut, Status
from almanac.jobs.service import JobService
from almanac.types import SafeStr

# The queue shows every job's arguments: admin only.
router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[AdminOnly])


def get_jobs(uow: UoW) -> JobService:
    return JobService(uow.session)


Jobs = Annotated[JobService, Depends(get_jobs)]


@router.get("")
async def list_jobs(
    jobs: Jobs,
    status: Status | None = None,
    task: Annotated[SafeStr | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    """Jobs, newest first."""
    return await jobs.list(status, task, limit)


@router.get("/{job_id}")
async def get_job(jobs: Jobs, job_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> JobDetailOut:
    """One job and its history (deferred, started, retried, finished)."""
    return await jobs.get(job_id)
