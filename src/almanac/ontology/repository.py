"""SQL for the Pattern Ontology: blueprints, workflows, process templates, execution runs.

Nothing else writes these tables' SQL for the ontology API and the library importer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, literal, or_, select
from sqlalchemy.exc import IntegrityError

from almanac.billing import Span, known_spans
from almanac.db.portable import PortableRows
from almanac.db.repository import Lock, Repository, equal_to
from almanac.errors import Conflict
from almanac.models import (
    ExecutionRun,
    Plan,
    ProcessTemplate,
    ServiceBlueprint,
    Task,
    Workflow,
)
from almanac.ontology.library import MARKER, content_hash
from almanac.types import WORK_TIME_AHEAD

# Serialises changes of workflow parents, so two concurrent edits cannot close a cycle.
_TREE_LOCK = "ontology:workflow-tree"


class OntologyRepository(Repository, PortableRows):
    """Reads and writes of the four ontology tables (and the rows that point at them)."""

    portable = (Workflow, ServiceBlueprint, ProcessTemplate, ExecutionRun)

    async def release_seeds(self, table_name: str, rows: list[dict[str, Any]]) -> int:
        """Starter workflows this folder wrote at its first start and nobody edited, held
        at the ids where the file has the same workflow (its name and version) edited:
        another installation's data at those ids, they refused the import of a move to a
        new machine served once. Each goes unless something here already refers to it."""
        if table_name != "workflows" or not rows:
            return 0
        given = {r["id"]: r for r in rows}
        held = await self.session.scalars(select(Workflow).where(Workflow.id.in_(list(given))))
        released = 0
        for row in held:
            theirs = given[row.id]
            current = content_hash(row.capability, row.steps, row.metadata_)
            untouched = (row.metadata_ or {}).get(MARKER, {}).get("hash") == current
            same = (theirs.get("name"), theirs.get("version")) == (row.name, row.version)
            edited = current != content_hash(
                theirs.get("capability"), theirs.get("steps"), theirs.get("metadata")
            )
            if not (untouched and same and edited):  # the same content is present as it is
                continue
            try:
                async with self.session.begin_nested():
                    await self.session.execute(delete(Workflow).where(Workflow.id == row.id))
            except IntegrityError:  # a plan or a template here uses it: the user's now
                continue
            released += 1
        return released

    async def lock_tree(self) -> None:
        await self.lock(_TREE_LOCK)

    # -- workflows -----------------------------------------------------------------------

    async def existing_workflows(self, ids: Sequence[int]) -> dict[int, Workflow]:
        """The workflows among `ids`, share-locked so they cannot be deleted under us."""
        if not ids:
            return {}
        stmt = (
            select(Workflow)
            .where(Workflow.id.in_(set(ids)))
            .with_for_update(read=True, key_share=True)
        )
        return {w.id: w for w in await self.session.scalars(stmt)}

    def workflows_query(
        self, *, capability: str | None, parent_workflow_id: int | None, q: str | None
    ) -> Select[Workflow]:
        stmt = select(Workflow).where(
            *equal_to(Workflow, capability=capability, parent_workflow_id=parent_workflow_id)
        )
        return stmt if q is None else stmt.where(Workflow.name.icontains(q, autoescape=True))

    async def children(self, parent_ids: Sequence[int]) -> dict[int, list[int]]:
        """Child workflow ids per parent id."""
        out: dict[int, list[int]] = {p: [] for p in parent_ids}
        if not parent_ids:
            return out
        rows = await self.session.execute(
            select(Workflow.parent_workflow_id, Workflow.id)
            .where(Workflow.parent_workflow_id.in_(parent_ids))
            .order_by(Workflow.id)
        )
        for parent, child in rows:
            if parent is not None:
                out.setdefault(int(parent), []).append(int(child))
        return out

    async def ancestors(self, workflow_id: int) -> list[int]:
        """`workflow_id` and its parent chain, nearest first (stops at a cycle)."""
        chain = select(Workflow.id, Workflow.parent_workflow_id, literal(1).label("depth")).where(
            Workflow.id == workflow_id
        )
        tree = chain.cte("chain", recursive=True)
        parent = select(
            Workflow.id, Workflow.parent_workflow_id, (tree.c.depth + 1).label("depth")
        ).join(tree, Workflow.id == tree.c.parent_workflow_id)
        # Depth bound: rows written outside this API could already hold a cycle.
        tree = tree.union_all(parent.where(tree.c.depth < 10_000))
        rows = await self.session.execute(select(tree.c.id).order_by(tree.c.depth))
        return [int(r) for r in rows.scalars()]

    async def lock_workflow_name(self, name: str, version: str) -> None:
        """Serialise writers of one (name, version): the table has no unique constraint."""
        await self.lock(f"ontology:workflow:{version}:{name}")

    async def lock_blueprint_name(self, name: str) -> None:
        await self.lock(f"ontology:blueprint:{name}")

    async def find_workflow(self, name: str, version: str) -> Workflow | None:
        """The (first) workflow with this name and version."""
        return await self.first(
            select(Workflow).where(Workflow.name == name, Workflow.version == version),
            Workflow.id,
        )

    async def latest_workflow(self, name: str) -> Workflow | None:
        """The newest workflow of this name (any version)."""
        return await self.first(select(Workflow).where(Workflow.name == name), Workflow.id.desc())

    async def workflow_users(self, workflow_id: int) -> dict[str, list[int]]:
        """What refers to a workflow: process templates, children, blueprints, plans."""
        return await self._users(
            {
                "process templates": select(ProcessTemplate.id).where(
                    ProcessTemplate.workflow_id == workflow_id
                ),
                "child workflows": select(Workflow.id).where(
                    Workflow.parent_workflow_id == workflow_id
                ),
                "service blueprints": select(ServiceBlueprint.id).where(
                    ServiceBlueprint.workflow_sequence.contains([workflow_id])
                ),
                "plans": select(Plan.id).where(Plan.workflow_id == workflow_id),
            }
        )

    async def _users(self, queries: dict[str, Select[Any]]) -> dict[str, list[int]]:
        """Up to 20 ids per label of the rows each query finds (labels with none left out)."""
        found: dict[str, list[int]] = {}
        for label, stmt in queries.items():
            ids = list((await self.session.scalars(stmt.limit(20))).all())
            if ids:
                found[label] = sorted(int(i) for i in ids)
        return found

    # -- service blueprints --------------------------------------------------------------

    def blueprints_query(self, *, offer_id: int | None, q: str | None) -> Select[ServiceBlueprint]:
        stmt = select(ServiceBlueprint).where(*equal_to(ServiceBlueprint, offer_id=offer_id))
        return (
            stmt if q is None else stmt.where(ServiceBlueprint.name.icontains(q, autoescape=True))
        )

    async def find_blueprint(self, name: str) -> ServiceBlueprint | None:
        return await self.first(
            select(ServiceBlueprint).where(ServiceBlueprint.name == name), ServiceBlueprint.id
        )

    # -- process templates ---------------------------------------------------------------

    async def existing_template(self, template_id: int) -> ProcessTemplate | None:
        return await self.by_id(ProcessTemplate, template_id, lock="share")

    def templates_query(
        self, *, workflow_id: int | None, engagement_id: int | None, status: str | None
    ) -> Select[ProcessTemplate]:
        return select(ProcessTemplate).where(
            *equal_to(
                ProcessTemplate, workflow_id=workflow_id, engagement_id=engagement_id, status=status
            )
        )

    async def new_template(self, **values: Any) -> ProcessTemplate:
        return await self.add(ProcessTemplate(**values))

    async def delete_templates(self, template_ids: Sequence[int]) -> dict[str, int]:
        """Delete process templates with their execution runs; how many of each."""
        if not template_ids:
            return {"process_templates": 0, "execution_runs": 0}
        ids = list(template_ids)
        runs = await self.delete_where(ExecutionRun, ExecutionRun.process_template_id.in_(ids))
        templates = await self.delete_where(ProcessTemplate, ProcessTemplate.id.in_(ids))
        return {"process_templates": templates, "execution_runs": runs}

    async def template_users(self, template_id: int) -> dict[str, list[int]]:
        """What refers to a process template and would block its deletion."""
        return await self._users(
            {
                "execution runs": select(ExecutionRun.id).where(
                    ExecutionRun.process_template_id == template_id
                ),
                "plans": select(Plan.id).where(Plan.process_template_id == template_id),
            }
        )

    # -- tasks and execution runs --------------------------------------------------------

    async def existing_task(self, task_id: int, *, lock: Lock = "share") -> Task | None:
        return await self.by_id(Task, task_id, lock=lock)

    async def run_for_task(self, task_id: int) -> ExecutionRun | None:
        """The task's execution run, row-locked (the latest, if several were recorded by
        other means)."""
        stmt = (
            select(ExecutionRun)
            .where(ExecutionRun.task_id == task_id)
            .order_by(ExecutionRun.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def task_runs(self, task_id: int, status: str) -> list[ExecutionRun]:
        """The task's runs of `status`, row-locked, oldest first: a task may have several
        open (hours recorded, then a timer started), and closing it stops each."""
        stmt = (
            select(ExecutionRun)
            .where(ExecutionRun.task_id == task_id, ExecutionRun.status == status)
            .order_by(ExecutionRun.id)
            .with_for_update()
        )
        return list((await self.session.scalars(stmt)).all())

    async def other_runs_hours(self, task_id: int, run_id: int) -> float:
        """The hours of the task's runs other than `run_id`: with that run's, what the
        task's `logged_hours` mirrors (a timer stopped and hours recorded are two runs)."""
        stmt = select(func.coalesce(func.sum(ExecutionRun.actual_hours), 0.0)).where(
            ExecutionRun.task_id == task_id, ExecutionRun.id != run_id
        )
        return float((await self.session.execute(stmt)).scalar_one() or 0.0)

    async def task_spans(self, task_id: int, *, but: int | None = None) -> list[Span]:
        """Where the task's runs say work was done (`billing.known_spans`), run `but` left
        out."""
        stmt = select(
            ExecutionRun.id, ExecutionRun.metadata_, ExecutionRun.started_at, ExecutionRun.ended_at
        ).where(ExecutionRun.task_id == task_id, ExecutionRun.id != (but or 0))
        return [s for row in await self.session.execute(stmt) for s in known_spans(*row)]

    async def spans_elsewhere(
        self, task_id: int, start: datetime, end: datetime
    ) -> list[tuple[Span, int]]:
        """Where other tasks' runs say work was done within [start, end), with their task
        (a run holds its records between its start and end)."""
        stmt = select(
            ExecutionRun.id,
            ExecutionRun.metadata_,
            ExecutionRun.started_at,
            ExecutionRun.ended_at,
            ExecutionRun.task_id,
        ).where(
            ExecutionRun.task_id.is_not(None),
            ExecutionRun.task_id != task_id,
            ExecutionRun.started_at < end,
            # A record may end up to a day after its run's end (`runs_until`).
            or_(ExecutionRun.ended_at.is_(None), ExecutionRun.ended_at > start - WORK_TIME_AHEAD),
        )
        return [
            (span, int(other))
            for run_id, meta, began, ended, other in await self.session.execute(stmt.limit(200))
            for span in known_spans(run_id, meta, began, ended)
            if span[0] < end and span[1] > start
        ]

    async def timers_elsewhere(self, task_id: int) -> list[tuple[ExecutionRun, str]]:
        """Runs of other tasks still running, with their task's title, oldest first (the
        run `TaskService.log_time` keeps times nothing: not one)."""
        stmt = (
            select(ExecutionRun, Task.title)
            .join(Task, Task.id == ExecutionRun.task_id)
            .where(
                ExecutionRun.task_id != task_id,
                ExecutionRun.ended_at.is_(None),
                ExecutionRun.status == "in_progress",
            )
            .order_by(ExecutionRun.started_at, ExecutionRun.id)
            .limit(20)
        )
        rows = await self.session.execute(stmt)
        return [(r, title) for r, title in rows if (r.metadata_ or {}).get("source") != "tasks"]

    async def open_timer(self, task_id: int, since: datetime | None = None) -> ExecutionRun | None:
        """A run of the task started at or before `since` (None: whenever) and not stopped:
        a timer still running then. The run `TaskService.log_time` keeps (source "tasks")
        times nothing: it adds up records."""
        stmt = (
            select(ExecutionRun)
            .where(
                ExecutionRun.task_id == task_id,
                ExecutionRun.ended_at.is_(None),
                ExecutionRun.status == "in_progress",
                *(() if since is None else (ExecutionRun.started_at <= since,)),
            )
            .order_by(ExecutionRun.id)
        )
        runs = await self.session.scalars(stmt)
        return next((r for r in runs if (r.metadata_ or {}).get("source") != "tasks"), None)

    async def new_run(self, **values: Any) -> ExecutionRun:
        return await self.add(ExecutionRun(**values))

    async def run_by_identifier(self, run_identifier: str) -> ExecutionRun | None:
        stmt = select(ExecutionRun).where(ExecutionRun.run_identifier == run_identifier)
        return (await self.session.scalars(stmt)).one_or_none()

    async def insert_run(self, values: dict[str, Any]) -> ExecutionRun | None:
        """Insert a run; None when its run_identifier is taken (a concurrent retry won)."""
        try:
            return await self.insert_new(ExecutionRun, values, "run_identifier")
        except IntegrityError as exc:
            raise Conflict("the process template or task was deleted concurrently; retry") from exc

    def runs_query(
        self, *, process_template_id: int | None, task_id: int | None, status: str | None
    ) -> Select[ExecutionRun]:
        return select(ExecutionRun).where(
            *equal_to(
                ExecutionRun,
                process_template_id=process_template_id,
                task_id=task_id,
                status=status,
            )
        )
