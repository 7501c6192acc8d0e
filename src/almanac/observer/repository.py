"""All SQL of the Observer: the period's tasks, runs and blocks; reflections; fact decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.portable import PortableRows
from almanac.memory.forgetting import Subject
from almanac.models import (
    Event,
    ExecutionRun,
    Plan,
    ProcessTemplate,
    SchedulerRun,
    Sprint,
    Task,
    Workflow,
)
from almanac.models.observer import FactDecision, Reflection
from almanac.models.status import APPLIED_RUN_STATUSES
from almanac.observer.report import BlockRow, RunRow, SprintRow, TaskRow

# The scheduler's statuses for runs that were written to the calendar.


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class ObserverRepository(PortableRows):
    """Reads of plans, tasks and telemetry for one period; reflections and decisions."""

    portable = (Reflection, FactDecision)

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the period ----------------------------------------------------------------------

    async def tasks(self, start: datetime, end: datetime, ids: Sequence[int]) -> list[TaskRow]:
        """Tasks scheduled or due in [start, end), plus the tasks `ids` (those with blocks)."""
        conds = [
            Task.scheduled_start.between(start, end),
            Task.deadline.between(start, end),
        ]
        if ids:
            conds.append(Task.id.in_(ids))
        rows = await self.session.scalars(select(Task).where(or_(*conds)).order_by(Task.id))
        return [
            TaskRow(
                t.id, t.title, t.estimate_hours, t.status, t.scheduled_start, t.deadline, t.billable
            )
            for t in rows
        ]

    async def runs(self, start: datetime, end: datetime) -> list[RunRow]:
        """Completed runs before `end` (drift needs history) and any run started in the period."""
        instance = func.coalesce(ExecutionRun.process_template_id, Task.process_template_id)
        at = func.coalesce(ExecutionRun.started_at, ExecutionRun.ended_at)
        meta = Task.metadata_
        # The baseline is the library's estimate the task was planned from (planner/
        # estimates.py), the same the planner measures runs against; older tasks that do
        # not carry it fall back to their own estimate.
        baseline = func.coalesce(
            meta["library_hours"].as_float(), Task.estimate_hours, ExecutionRun.estimated_hours
        )
        stmt = (
            select(
                ExecutionRun,
                func.coalesce(meta["workflow_task"].as_string(), Task.plan_task_key),
                func.coalesce(Task.billable, False),
                instance,
                func.coalesce(meta["workflow_id"].as_integer(), ProcessTemplate.workflow_id),
                baseline,
            )
            .outerjoin(Task, Task.id == ExecutionRun.task_id)
            .outerjoin(ProcessTemplate, ProcessTemplate.id == instance)
            .where(
                at < end,
                or_(ExecutionRun.status == "completed", at >= start),
            )
            .order_by(at, ExecutionRun.id)
        )
        out = []
        for run, key, billable, inst, workflow_id, estimated in await self.session.execute(stmt):
            out.append(
                RunRow(
                    id=run.id,
                    status=run.status,
                    task_id=run.task_id,
                    task_key=key,
                    instance_id=inst,
                    workflow_id=workflow_id,
                    started_at=run.started_at,
                    ended_at=run.ended_at,
                    estimated_hours=estimated,
                    actual_hours=run.actual_hours,
                    billable=bool(billable),
                )
            )
        return out

    async def _applied(self, newest: bool) -> dict[int, list[Any]]:
        order = SchedulerRun.id.desc() if newest else SchedulerRun.id.asc()
        stmt = (
            select(SchedulerRun.plan_id, SchedulerRun.schedule_blocks)
            .ext(distinct_on(SchedulerRun.plan_id))
            .join(Plan, Plan.id == SchedulerRun.plan_id)
            .where(SchedulerRun.status.in_(APPLIED_RUN_STATUSES), Plan.status != "cancelled")
            .order_by(SchedulerRun.plan_id, order)
        )
        return {pid: list(blocks or []) for pid, blocks in await self.session.execute(stmt)}

    async def blocks(self, start: datetime, end: datetime) -> list[BlockRow]:
        """Blocks of each plan's current schedule in [start, end), with their first placement."""
        latest, first = await self._applied(True), await self._applied(False)
        found: list[tuple[int, dict[str, Any], datetime, datetime]] = []
        for plan_id, rows in latest.items():
            for row in rows:
                b0, b1 = _when(row.get("start")), _when(row.get("end"))
                if b0 is not None and b1 is not None and start <= b0 < end and "task_key" in row:
                    found.append((plan_id, row, b0, b1))
        keys = sorted({(p, str(r["task_key"])) for p, r, _, _ in found})
        ids: dict[tuple[int, str], int] = {}
        if keys:
            stmt = select(Task.plan_id, Task.plan_task_key, Task.id).where(
                Task.plan_id.in_({p for p, _ in keys})
            )
            ids = {(p, k): i for p, k, i in await self.session.execute(stmt) if p and k}
        out = []
        for plan_id, row, b0, b1 in found:
            key, chunk = str(row["task_key"]), row.get("chunk", 0)
            orig = next(
                (
                    o
                    for o in first.get(plan_id, [])
                    if str(o.get("task_key")) == key and o.get("chunk", 0) == chunk
                ),
                None,
            )
            out.append(
                BlockRow(
                    task_id=ids.get((plan_id, key)),
                    task_key=key,
                    start=b0,
                    end=b1,
                    first_start=_when(orig.get("start")) if orig else None,
                    first_end=_when(orig.get("end")) if orig else None,
                )
            )
        return out

    async def sprint(self, week_start: date) -> SprintRow | None:
        s = (
            await self.session.scalars(select(Sprint).where(Sprint.week_start == week_start))
        ).one_or_none()
        if s is None:
            return None
        return SprintRow(s.week_start, s.capacity_hrs, s.billable_target_pct, s.runway_weeks)

    async def workflows(self, ids: Sequence[int] | None = None) -> list[Workflow]:
        """Workflows by id, or every workflow with a completed run when `ids` is None."""
        stmt = select(Workflow).order_by(Workflow.id)
        if ids is not None:
            stmt = stmt.where(Workflow.id.in_(ids))
        else:
            instance = func.coalesce(ExecutionRun.process_template_id, Task.process_template_id)
            with_runs = (
                select(ProcessTemplate.workflow_id)
                .select_from(ExecutionRun)
                .outerjoin(Task, Task.id == ExecutionRun.task_id)
                .join(ProcessTemplate, ProcessTemplate.id == instance)
                .where(ExecutionRun.status == "completed")
            )
            stmt = stmt.where(Workflow.id.in_(with_runs))
        return list(await self.session.scalars(stmt))

    # -- reflections ---------------------------------------------------------------------

    async def upsert_reflection(self, values: dict[str, Any]) -> Reflection:
        """Insert, or replace the reflection of the same mode and period (one row, same id)."""
        table = cast(Table, Reflection.__table__)
        changed = {k: v for k, v in values.items() if k not in ("mode", "period_start")}
        stmt = (
            insert(table)
            .values(**values)
            .on_conflict_do_update(
                constraint="uq_reflections_mode_period_start",
                set_={**changed, "updated_at": func.now()},
            )
            .returning(table.c.id)
        )
        reflection_id = (await self.session.execute(stmt)).scalar_one()
        row = await self.session.get(Reflection, reflection_id, populate_existing=True)
        assert row is not None
        return row

    async def reflection(self, reflection_id: int) -> Reflection | None:
        return await self.session.get(Reflection, reflection_id)

    async def reflections(self, mode: str | None, limit: int) -> list[Reflection]:
        stmt = select(Reflection).order_by(Reflection.period_start.desc(), Reflection.id.desc())
        if mode is not None:
            stmt = stmt.where(Reflection.mode == mode)
        return list(await self.session.scalars(stmt.limit(limit)))

    # -- events and fact decisions ---------------------------------------------------------

    async def memories(self, start: datetime, end: datetime) -> list[tuple[str, float, str]]:
        """(event_type, salience, content) of the memories that happened in [start, end).

        Reflections themselves are left out: a week's review should not count its days'.
        """
        rows = await self.session.execute(
            select(Event.event_type, Event.salience_score, Event.content).where(
                Event.occurred_at >= start,
                Event.occurred_at < end,
                Event.event_type != "reflection",
            )
        )
        return [(str(t), float(s), str(c)) for t, s, c in rows]

    async def event(self, event_id: int, *, fresh: bool = False) -> Event | None:
        """The event; `fresh` reads it again even when the session holds it already."""
        return await self.session.get(Event, event_id, populate_existing=fresh)

    async def lock_event(self, event_id: int) -> None:
        """Serialise extractions of one event (two workers must not both add its facts)."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"observer-extract:{event_id}")))
        )

    async def zep_refs_seen(self, refs: Sequence[str]) -> set[str]:
        """Which Zep fact uuids already have a decision (each is imported once)."""
        if not refs:
            return set()
        ref = FactDecision.proposal["zep_uuid"].astext
        stmt = select(ref).where(FactDecision.source == "zep", ref.in_(list(refs)))
        return {r for r in (await self.session.scalars(stmt)) if r is not None}

    async def add_decision(self, values: dict[str, Any]) -> FactDecision:
        row = FactDecision(**values)
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def decisions(
        self, event_id: int | None, sources: Sequence[str] | None = None, limit: int = 200
    ) -> list[FactDecision]:
        stmt = select(FactDecision).order_by(FactDecision.id)
        if event_id is not None:
            stmt = stmt.where(FactDecision.event_id == event_id)
        if sources is not None:
            stmt = stmt.where(FactDecision.source.in_(sources))
        return list(await self.session.scalars(stmt.limit(limit)))

    async def delete_decisions_about(
        self,
        event_ids: Sequence[int],
        fact_ids: Sequence[int],
        subject_type: str,
        subject_id: str,
        client_id: int | None,
    ) -> int:
        """Fact-extraction decisions from these events, for these facts, or proposing a
        fact about the subject (their `proposal` repeats the content)."""
        proposal = FactDecision.proposal
        about = [
            (proposal["subject_type"].astext == subject_type)
            & (proposal["subject_id"].astext == subject_id)
        ]
        if event_ids:
            about.append(FactDecision.event_id.in_(event_ids))
        if fact_ids:
            about.append(FactDecision.fact_id.in_(fact_ids))
        if client_id is not None:
            about.append(proposal["client_id"].astext == str(client_id))
        stmt = delete(FactDecision).where(or_(*about)).returning(FactDecision.id)
        return len((await self.session.execute(stmt)).all())

    async def delete_reflections_quoting(self, texts: Sequence[str]) -> int:
        """Reflections whose report or narrative quotes any of `texts` (notable memories)."""
        if not texts:
            return 0
        rows = (
            await self.session.execute(
                select(Reflection.id, Reflection.report, Reflection.narrative)
            )
        ).all()
        doomed = []
        for rid, report, narrative in rows:
            blob = json.dumps(report, ensure_ascii=False) + "\n" + (narrative or "")
            if any(
                t and (t in blob or json.dumps(t, ensure_ascii=False)[1:-1] in blob) for t in texts
            ):
                doomed.append(rid)
        if doomed:
            await self.session.execute(delete(Reflection).where(Reflection.id.in_(doomed)))
        return len(doomed)


async def forget_subject(session: AsyncSession, subject: Subject) -> dict[str, int]:
    """The observer's copies of a forgotten subject: extraction decisions, and reflections
    quoting its memories (the next run recreates them without)."""
    repo = ObserverRepository(session)
    decisions = await repo.delete_decisions_about(
        subject.event_ids, subject.fact_ids, subject.type, subject.id, subject.client_id
    )
    quoted = [t[:200] for t in subject.event_texts]
    return {
        "fact_decisions": decisions,
        "reflections": await repo.delete_reflections_quoting(quoted),
    }
