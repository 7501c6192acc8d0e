"""The API shapes of the job queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

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
    # Why the job is waiting for a retry or failed (e.g. fact extraction waiting for the LLM).
    reason: str | None = None


class JobEventOut(BaseModel):
    """One step of a job's history."""

    type: str
    at: datetime | None


class JobDetailOut(JobOut):
    """A job with its history."""

    events: list[JobEventOut]
