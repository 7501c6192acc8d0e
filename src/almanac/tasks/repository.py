"""SQL for tasks as an API resource and the execution runs that record time on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select

from almanac.db.repository import Repository, equal_to
from almanac.models import ExecutionRun, Task


class TaskRepository(Repository):
    """Reads and edits task rows; records time as execution runs."""

    async def search(
        self,
        *,
        plan_id: int | None,
        client_id: int | None,
        status: str | None,
        due_before: datetime | None,
        day: tuple[datetime, datetime] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Task], int]:
        conds = equal_to(Task, plan_id=plan_id, client_id=client_id, status=status)
        if due_before is not None:
            conds.append(Task.deadline < due_before)
        if day is not None:
            lo, hi = day
            conds.append(
                or_(
                    and_(Task.scheduled_start >= lo, Task.scheduled_start < hi),
                    and_(Task.deadline >= lo, Task.deadline < hi),
                    Task.status == "in_progress",
                )
            )
        order = [Task.deadline.asc().nulls_last(), Task.priority.desc(), Task.id]
        return await self.page(select(Task).where(*conds), order, limit, offset)

    async def get(self, task_id: int, *, for_update: bool = False) -> Task | None:
        return await self.by_id(Task, task_id, lock=self.lock_of(for_update))

    async def by_keys(self, plan_id: int, keys: Sequence[str]) -> list[Task]:
        if not keys:
            return []
        stmt = select(Task).where(Task.plan_id == plan_id, Task.plan_task_key.in_(list(keys)))
        return list(await self.session.scalars(stmt))

    async def dependents(self, plan_id: int, key: str) -> list[Task]:
        rows = await self.session.scalars(select(Task).where(Task.plan_id == plan_id))
        return [t for t in rows if key in {str(d) for d in t.depends_on or ()}]

    async def flush(self) -> None:
        await self.session.flush()

    async def run_for_task(self, task_id: int) -> ExecutionRun | None:
        """The task's execution run (the latest, if several were recorded by other means)."""
        stmt = (
            select(ExecutionRun)
            .where(ExecutionRun.task_id == task_id)
            .order_by(ExecutionRun.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def add_run(self, run: ExecutionRun) -> ExecutionRun:
        return await self.add(run)
