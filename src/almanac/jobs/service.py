"""Reading the job queue: what ran, what failed, how many attempts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.errors import NotFound
from almanac.jobs import repository
from almanac.jobs.schemas import JobDetailOut, JobEventOut, JobOut, Status


class JobService:
    """The queue's jobs and their history, for the API."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, status: Status | None, task: str | None, limit: int) -> list[JobOut]:
        """Jobs, newest first."""
        rows = await repository.list_jobs(self.session, status=status, task=task, limit=limit)
        return [JobOut.model_validate(r._asdict()) for r in rows]

    async def get(self, job_id: int) -> JobDetailOut:
        """One job and its history; NotFound when there is none."""
        row = await repository.get_job(self.session, job_id)
        if row is None:
            raise NotFound(f"job {job_id} not found")
        events = await repository.job_events(self.session, job_id)
        return JobDetailOut(
            **row._asdict(), events=[JobEventOut.model_validate(e._asdict()) for e in events]
        )
