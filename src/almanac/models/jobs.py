"""The clock's memory: when each periodic job was last deferred.

The job queue itself (`procrastinate_*` tables) belongs to procrastinate and is created by
migration 0006 from its own schema file, so it has no models here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, UpdatedMixin


class JobSchedule(UpdatedMixin, Base):
    """One periodic job: the last due time that was deferred (None: never yet)."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cron: Mapped[str] = mapped_column(String(100), nullable=False)
    last_due_at: Mapped[datetime | None] = mapped_column()
    last_job_id: Mapped[int | None] = mapped_column(BigInteger)
