"""The Observer's reads of a period (through the owners' repositories) and all SQL of its own
tables: reflections and fact decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.billing import logged_entries
from almanac.db.portable import PortableRows
from almanac.db.repository import Repository
from almanac.memory.forget_repository import ForgetRepository
from almanac.memory.forgetting import Subject
from almanac.memory.repository import EventRepository
from almanac.models import Workflow
from almanac.models.observer import FactDecision, Reflection
from almanac.observer.rows import BlockRow, RunRow, SprintRow, TaskRow
from almanac.observer.schemas import fact_source
from almanac.ontology.catalog import CatalogRepository
from almanac.planner.repository import PlanRepository
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler.calendar_model import logged_hours
from almanac.scheduler.repository import SchedulerRepository


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _planned_start(meta: Any) -> datetime | None:
    """Where a task was planned when its finished work freed its blocks (an aware time)."""
    when = _when(meta.get("planned_start")) if isinstance(meta, dict) else None
    return when if when is not None and when.tzinfo is not None else None


class ObserverRepository(Repository, PortableRows):
    """The period's tasks, runs, blocks and sprint, read through their owners'
    repositories; the observer's own tables, reflections and fact decisions."""

    portable = (Reflection, FactDecision)

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.plan_rows = PlanRepository(session)
        self.task_rows = TaskRepository(session)
        self.scheduler_rows = SchedulerRepository(session)
        self.catalog = CatalogRepository(session)
        self.events = EventRepository(session)

    # -- the period ----------------------------------------------------------------------

    async def tasks(self, start: datetime, end: datetime, ids: Sequence[int]) -> list[TaskRow]:
        """Tasks scheduled, due or finished in [start, end), plus the tasks `ids` (those
        with blocks)."""
        return [
            TaskRow(
                t.id,
                t.title,
                t.estimate_hours,
                t.status,
                t.scheduled_start,
                t.deadline,
                t.billable,
                t.finished_at,
                _planned_start(t.metadata_),
                t.client_id,
                logged_hours(t),
            )
            for t in await self.task_rows.in_period(start, end, ids)
        ]

    async def runs(self, start: datetime, end: datetime) -> list[RunRow]:
        """Completed runs before `end` (drift needs history) and any run started in the period."""
        return [
            RunRow(
                id=r.run.id,
                status=r.run.status,
                task_id=r.run.task_id,
                task_key=r.task_key,
                instance_id=r.instance_id,
                workflow_id=r.workflow_id,
                started_at=r.run.started_at,
                ended_at=r.run.ended_at,
                estimated_hours=r.baseline_hours,
                actual_hours=r.run.actual_hours,
                billable=r.billable,
                entries=logged_entries(r.run.metadata_),
                task_unfinished=r.task_unfinished,
            )
            for r in await self.task_rows.runs_until(start, end)
        ]

    async def blocks(self, start: datetime, end: datetime) -> list[BlockRow]:
        """Blocks of each plan's current schedule in [start, end), with their first placement."""
        live = await self.plan_rows.ids_not_cancelled(None)
        latest = await self.scheduler_rows.applied_blocks(live, newest=True)
        first = await self.scheduler_rows.applied_blocks(live, newest=False)
        found: list[tuple[int, dict[str, Any], datetime, datetime]] = []
        for plan_id, rows in latest.items():
            for row in rows:
                b0, b1 = _when(row.get("start")), _when(row.get("end"))
                if b0 is not None and b1 is not None and start <= b0 < end and "task_key" in row:
                    found.append((plan_id, row, b0, b1))
        ids = await self.task_rows.ids_by_key(sorted({p for p, _, _, _ in found}))
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
        s = await self.scheduler_rows.sprint_for_week(week_start)
        if s is None:
            return None
        return SprintRow(s.week_start, s.capacity_hrs, s.billable_target_pct, s.runway_weeks)

    async def workflows(self, ids: Sequence[int] | None = None) -> list[Workflow]:
        """Workflows by id, or every workflow with a completed run when `ids` is None."""
        if ids is None:
            ids = await self.task_rows.workflows_with_completed_runs()
        found = await self.catalog.workflows(ids)
        return [found[i] for i in sorted(found)]

    async def memories(self, start: datetime, end: datetime) -> list[tuple[str, float, str, bool]]:
        """(event_type, salience, content, a client's?) of the memories in [start, end)."""
        return await self.events.happened_between(start, end)

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

    async def of_period(
        self, mode: str, period_start: date, *, for_update: bool = False
    ) -> Reflection | None:
        """The stored reflection of this period, if any."""
        stmt = select(Reflection).where(
            Reflection.mode == mode, Reflection.period_start == period_start
        )
        if for_update:
            stmt = stmt.with_for_update()
        return cast(Reflection | None, await self.session.scalar(stmt))

    async def remembered(self, row: Reflection, event_id: int) -> None:
        """The reflection's memory, written late: it points at it, and no longer says it
        was not remembered."""
        row.event_id = event_id
        row.report = {k: v for k, v in (row.report or {}).items() if k != "memory"}
        await self.session.flush()

    async def reflection(self, reflection_id: int) -> Reflection | None:
        return await self.by_id(Reflection, reflection_id)

    async def reflections(self, mode: str | None, limit: int, offset: int = 0) -> list[Reflection]:
        stmt = select(Reflection).order_by(Reflection.period_start.desc(), Reflection.id.desc())
        if mode is not None:
            stmt = stmt.where(Reflection.mode == mode)
        return list(await self.session.scalars(stmt.limit(limit).offset(offset)))

    # -- events and fact decisions ---------------------------------------------------------

    async def lock_event(self, event_id: int) -> None:
        """Serialise extractions of one event (two workers must not both add its facts)."""
        await self.lock(f"observer-extract:{event_id}")

    async def zep_refs_seen(self, refs: Sequence[str]) -> set[str]:
        """Which Zep fact uuids already have a decision (each is imported once)."""
        if not refs:
            return set()
        ref = FactDecision.proposal["zep_uuid"].astext
        stmt = select(ref).where(FactDecision.source == "zep", ref.in_(list(refs)))
        return {r for r in (await self.session.scalars(stmt)) if r is not None}

    async def add_decision(self, values: dict[str, Any]) -> FactDecision:
        return await self.add(FactDecision(**values))

    async def decisions(
        self,
        event_id: int | None,
        sources: Sequence[str] | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[FactDecision]:
        stmt = select(FactDecision).order_by(FactDecision.id)
        if event_id is not None:
            stmt = stmt.where(FactDecision.event_id == event_id)
        if sources is not None:
            stmt = stmt.where(FactDecision.source.in_(sources))
        return list(await self.session.scalars(stmt.limit(limit).offset(offset)))

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
        return await self.delete_where(FactDecision, or_(*about))

    async def delete_pattern_decisions(
        self, workflow_ids: Sequence[str], fact_ids: Sequence[int]
    ) -> int:
        """Decisions on the numbers' pattern facts of these workflows (their `proposal`
        repeats the figures), or on these facts."""
        if not workflow_ids and not fact_ids:
            return 0
        proposal = FactDecision.proposal
        about = (
            (FactDecision.source == "numbers")
            & (proposal["subject_type"].astext == "workflow")
            & proposal["subject_id"].astext.in_(list(workflow_ids))
        )
        return await self.delete_where(
            FactDecision, or_(about, FactDecision.fact_id.in_(list(fact_ids)))
        )

    async def drop_client_from_reflections(self, client_id: int) -> int:
        """Take a client's slipped tasks (their titles) out of the stored reports; how many
        reflections changed. The numbers stay: totals that name no one."""
        result = await self.session.execute(
            text(
                "UPDATE reflections SET report = jsonb_set(report, '{slipped}', "
                "(SELECT coalesce(jsonb_agg(s ORDER BY n), '[]'::jsonb) "
                "FROM jsonb_array_elements(report->'slipped') WITH ORDINALITY AS x(s, n) "
                "WHERE (s->>'client_id') IS DISTINCT FROM :cid)) "
                "WHERE report->'slipped' @> jsonb_build_array(jsonb_build_object("
                "'client_id', CAST(:id AS integer)))"
            ),
            {"cid": str(client_id), "id": client_id},
        )
        return int(getattr(result, "rowcount", 0) or 0)

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
        return await self.delete_where(Reflection, Reflection.id.in_(doomed)) if doomed else 0


async def forget_subject(session: AsyncSession, subject: Subject) -> dict[str, int]:
    """The observer's copies of a forgotten subject: extraction decisions, reflections
    quoting its memories (the next run recreates them without), and for a client the
    pattern facts of the workflows it ran, which count its runs: named for the forget to
    delete (every version), with their decisions, and its slipped tasks in the stored
    reports. The next reflection writes the patterns anew from the runs left. Runs before
    the planner's forgetter, which deletes the runs."""
    repo = ObserverRepository(session)
    counts: dict[str, int] = {}
    decisions = await repo.delete_decisions_about(
        subject.event_ids, subject.fact_ids, subject.type, subject.id, subject.client_id
    )
    if subject.client_id is not None:
        workflows = [
            str(w) for w in await repo.task_rows.workflows_run_for_client(subject.client_id)
        ]
        patterns = await ForgetRepository(session).fact_ids_about(
            "workflow", workflows, "pattern", fact_source("numbers")
        )
        subject.derived_fact_ids.extend(patterns)
        decisions += await repo.delete_pattern_decisions(workflows, patterns)
        counts["reflections_changed"] = await repo.drop_client_from_reflections(subject.client_id)
    quoted = [t[:200] for t in subject.event_texts]
    counts["fact_decisions"] = decisions
    counts["reflections"] = await repo.delete_reflections_quoting(quoted)
    return counts
