"""SQL for plans, their versions and tasks, prompt templates, and the history planning reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.repository import CalendarEntryRepository
from almanac.db.portable import PortableRows
from almanac.db.repository import Repository, equal_to
from almanac.memory.forgetting import Subject
from almanac.models import (
    ExecutionRun,
    Plan,
    PlanVersion,
    ProcessTemplate,
    PromptTemplate,
    ServiceBlueprint,
    Task,
    Workflow,
)
from almanac.ontology.repository import OntologyRepository


class PlanRepository(Repository, PortableRows):
    """Plans, plan versions, and what approval creates."""

    portable = (Plan, PlanVersion)

    async def get(self, plan_id: int, *, for_update: bool = False) -> Plan | None:
        return await self.by_id(Plan, plan_id, lock=self.lock_of(for_update))

    async def ids_of_client(self, client_id: int) -> list[int]:
        """A client's plan ids, in order."""
        stmt = select(Plan.id).where(Plan.client_id == client_id).order_by(Plan.id)
        return list(await self.session.scalars(stmt))

    async def ids_not_cancelled(self, client_id: int | None) -> list[int]:
        """Ids of the plans not cancelled (a client's, or everyone's)."""
        stmt = select(Plan.id).where(
            Plan.status != "cancelled", *equal_to(Plan, client_id=client_id)
        )
        return list(await self.session.scalars(stmt.order_by(Plan.id)))

    async def ids_with_status(self, statuses: Sequence[str]) -> list[int]:
        """Ids of the plans in any of `statuses`, in order."""
        stmt = select(Plan.id).where(Plan.status.in_(tuple(statuses))).order_by(Plan.id)
        return list(await self.session.scalars(stmt))

    async def with_status(self, statuses: Sequence[str]) -> list[Plan]:
        """Plans in any of `statuses`, by id."""
        stmt = select(Plan).where(Plan.status.in_(tuple(statuses))).order_by(Plan.id)
        return list(await self.session.scalars(stmt))

    async def set_status(self, plan: Plan, status: str) -> None:
        """Store a status the caller has checked with `require_transition`."""
        plan.status = status
        await self.session.flush()

    async def plans(
        self, *, client_id: int | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[Plan], int]:
        """A page of plans, newest first, and the total matching the filters."""
        stmt = select(Plan).where(*equal_to(Plan, client_id=client_id, status=status))
        return await self.page(stmt, [Plan.id.desc()], limit, offset)

    async def save_version(self, plan: Plan, note: str | None) -> None:
        """Keep the plan as it is now before it is edited."""
        self.session.add(
            PlanVersion(
                plan_id=plan.id,
                version=plan.version,
                plan_title=plan.plan_title,
                sop=plan.sop,
                status=plan.status,
                note=note,
            )
        )
        await self.session.flush()

    async def versions(self, plan_id: int) -> list[PlanVersion]:
        rows = await self.session.scalars(
            select(PlanVersion).where(PlanVersion.plan_id == plan_id).order_by(PlanVersion.version)
        )
        return list(rows)

    async def flush(self, plan: Plan) -> Plan:
        """Write changes to `plan` and read it back (updated_at)."""
        return await self.save(plan)

    async def add_tasks(self, tasks: Sequence[Task]) -> list[int]:
        return [t.id for t in await self.add_all(tasks)]

    async def delete_for_client(self, client_id: int) -> tuple[list[int], list[int]]:
        """Delete a client's plans (versions, tasks and scheduler runs go with them);
        returns their ids and the ids of the process templates approving them created."""
        plans = (
            await self.session.execute(
                delete(Plan)
                .where(Plan.client_id == client_id)
                .returning(Plan.id, Plan.process_template_id)
            )
        ).all()
        return [int(p) for p, _ in plans], [int(t) for _, t in plans if t is not None]


class PromptRepository(Repository, PortableRows):
    """Versioned prompt templates; one active version per name."""

    portable = (PromptTemplate,)
    seeded = frozenset({"prompt_templates"})

    async def active(self, name: str) -> PromptTemplate | None:
        stmt = select(PromptTemplate).where(
            PromptTemplate.template_name == name, PromptTemplate.is_active
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def versions(self, name: str | None = None) -> list[PromptTemplate]:
        stmt = select(PromptTemplate).order_by(PromptTemplate.template_name, PromptTemplate.id)
        if name is not None:
            stmt = stmt.where(PromptTemplate.template_name == name)
        return list(await self.session.scalars(stmt))

    async def lock_name(self, name: str) -> None:
        """Serialise version changes of one template (two editors must not both get v3)."""
        await self.lock("prompt:" + name)

    async def deactivate_all(self, name: str) -> None:
        await self.session.execute(
            update(PromptTemplate)
            .where(PromptTemplate.template_name == name, PromptTemplate.is_active)
            .values(is_active=False)
        )
        await self.session.flush()

    async def set_active(self, template: PromptTemplate) -> None:
        template.is_active = True
        await self.session.flush()


HISTORY_PER_WORKFLOW = 3000


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One completed task of a past plan (its runs summed)."""

    workflow_id: int
    instance: int  # process template
    key: str  # the workflow's task key
    library_hours: float | None  # the library's estimate when the plan was made
    estimated_hours: float | None  # what the plan said
    actual_hours: float
    client_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A workflow or blueprint that can become a plan's skeleton."""

    kind: str  # "workflow" | "blueprint"
    id: int
    name: str
    text: str  # what the intent is matched against
    updated_key: str  # changes whenever the row changes (for the vector cache)
    workflow_ids: tuple[int, ...]
    # Keyword phrases in every language (matched lexically, not embedded) and the cadence.
    keywords: tuple[str, ...] = ()
    cadence: str | None = None


class LibraryRepository:
    """Reads of the Pattern Ontology the planner adapts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def candidates(self) -> list[Candidate]:
        """Every workflow and blueprint, with the text used to match intents."""
        out: list[Candidate] = []
        workflows = await self.session.execute(
            select(
                Workflow.id,
                Workflow.name,
                Workflow.capability,
                Workflow.metadata_,
                Workflow.steps,
                Workflow.updated_at,
            )
        )
        for id_, name, capability, metadata, steps, updated in workflows:
            out.append(
                Candidate(
                    kind="workflow",
                    id=id_,
                    name=name,
                    text=_match_text(name, capability, metadata, steps),
                    updated_key=updated.isoformat(),
                    workflow_ids=(id_,),
                    keywords=keyword_phrases(metadata),
                    cadence=_cadence(metadata),
                )
            )
        blueprints = await self.session.execute(
            select(
                ServiceBlueprint.id,
                ServiceBlueprint.name,
                ServiceBlueprint.description,
                ServiceBlueprint.metadata_,
                ServiceBlueprint.workflow_sequence,
                ServiceBlueprint.updated_at,
            )
        )
        for id_, name, description, metadata, sequence, updated in blueprints:
            ids = tuple(int(x) for x in (sequence or []) if isinstance(x, int))
            if not ids:
                continue
            text = " ".join(filter(None, [name, description, _keywords(metadata)]))
            out.append(
                Candidate(
                    kind="blueprint",
                    id=id_,
                    name=name,
                    text=text,
                    updated_key=updated.isoformat(),
                    workflow_ids=ids,
                )
            )
        return out

    async def workflows(self, ids: Sequence[int]) -> dict[int, Workflow]:
        rows = await self.session.scalars(select(Workflow).where(Workflow.id.in_(ids)))
        return {w.id: w for w in rows}

    async def workflow(self, workflow_id: int) -> Workflow | None:
        return await self.session.get(Workflow, workflow_id)

    async def run_history(
        self, workflow_ids: Sequence[int], *, per_workflow: int = HISTORY_PER_WORKFLOW
    ) -> list[HistoryRow]:
        """Completed work per task of past plans of these workflows, newest first.

        A task may have several runs (paused and resumed work): their hours are summed. A
        task approved since calibration became per client carries its origin in its
        metadata (workflow, workflow task key, library estimate), which also covers the
        workflows inside a blueprint; older tasks fall back to their process template's
        workflow and their own key. At most `per_workflow` tasks per workflow (the newest:
        old runs weigh next to nothing anyway).
        """
        if not workflow_ids:
            return []
        meta = Task.metadata_
        workflow = func.coalesce(
            meta["workflow_id"].as_integer(), ProcessTemplate.workflow_id
        ).label("workflow")
        key = func.coalesce(meta["workflow_task"].as_string(), Task.plan_task_key)
        library = meta["library_hours"].as_float()
        actual = func.sum(ExecutionRun.actual_hours)
        estimated = func.coalesce(Task.estimate_hours, func.max(ExecutionRun.estimated_hours))
        at = func.max(func.coalesce(ExecutionRun.ended_at, ExecutionRun.started_at))
        inner = (
            select(
                workflow,
                ProcessTemplate.id.label("instance"),
                key.label("key"),
                library.label("library"),
                estimated.label("estimated"),
                actual.label("actual"),
                Task.client_id.label("client"),
                func.coalesce(at, Task.updated_at).label("at"),
            )
            .join(Task, Task.id == ExecutionRun.task_id)
            .join(ProcessTemplate, ProcessTemplate.id == Task.process_template_id)
            .where(
                ExecutionRun.status == "completed",
                ExecutionRun.actual_hours.is_not(None),
                Task.plan_task_key.is_not(None),
                workflow.in_(workflow_ids),
            )
            .group_by(Task.id, ProcessTemplate.id)
            .subquery()
        )
        ranked = select(
            inner,
            func.row_number()
            .over(partition_by=inner.c.workflow, order_by=inner.c.at.desc())
            .label("n"),
        )
        sub = ranked.subquery()
        stmt = select(sub).where(sub.c.n <= per_workflow).order_by(sub.c.at.desc())
        return [
            HistoryRow(
                workflow_id=int(r.workflow),
                instance=int(r.instance),
                key=str(r.key),
                library_hours=float(r.library) if r.library is not None else None,
                estimated_hours=float(r.estimated) if r.estimated is not None else None,
                actual_hours=float(r.actual),
                client_id=r.client,
                at=r.at,
            )
            for r in await self.session.execute(stmt)
            if r.actual is not None and r.key is not None
        ]


def _keywords(metadata: dict[str, Any] | None) -> str:
    if not metadata:
        return ""
    parts: list[str] = []
    for key in ("description", "keywords", "aliases"):
        value = metadata.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(str(v) for v in value)
    return " ".join(parts)


def keyword_phrases(metadata: dict[str, Any] | None) -> tuple[str, ...]:
    """Keywords and aliases, plus `keywords_i18n` ({"de": [...], "fr": [...], ...})."""
    if not metadata:
        return ()
    out: list[str] = []
    for key in ("keywords", "aliases"):
        value = metadata.get(key)
        if isinstance(value, list):
            out.extend(str(v) for v in value)
    i18n = metadata.get("keywords_i18n")
    if isinstance(i18n, dict):
        for values in i18n.values():
            if isinstance(values, list):
                out.extend(str(v) for v in values)
    return tuple(out[:200])


def _cadence(metadata: dict[str, Any] | None) -> str | None:
    value = (metadata or {}).get("cadence")
    return value if isinstance(value, str) else None


def _match_text(
    name: str, capability: str | None, metadata: dict[str, Any] | None, steps: Any
) -> str:
    titles: list[str] = []
    if isinstance(steps, list):
        for step in steps[:20]:
            if isinstance(step, dict) and isinstance(step.get("title"), str):
                titles.append(step["title"])
    return " ".join(filter(None, [name, capability or "", _keywords(metadata), ". ".join(titles)]))


async def forget_client(session: AsyncSession, subject: Subject) -> dict[str, int]:
    """A forgotten client's plans (with versions, tasks, templates and runs) and the
    built-in calendar's blocks placed for them."""
    if subject.client_id is None:
        return {}
    plan_ids, templates = await PlanRepository(session).delete_for_client(subject.client_id)
    counts = await OntologyRepository(session).delete_templates(templates)
    blocks = await CalendarEntryRepository(session).delete_blocks_of_plans(plan_ids)
    return {"plans": len(plan_ids), **counts, "calendar_entries": blocks}
