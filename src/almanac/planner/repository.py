"""SQL for plans, their versions and tasks, prompt templates, and the history planning reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.repository import CalendarEntryRepository
from almanac.db.portable import PortableRows
from almanac.db.repository import Repository, equal_to
from almanac.errors import Conflict
from almanac.memory.forgetting import Subject
from almanac.models import (
    Plan,
    PlanVersion,
    PromptTemplate,
    Task,
)
from almanac.ontology.repository import OntologyRepository

_NO_KEY = {"idempotency_key": None, "idempotency_caller": None, "idempotency_hash": None}


class PlanRepository(Repository, PortableRows):
    """Plans, plan versions, and what approval creates."""

    portable = (Plan, PlanVersion)

    async def import_rows(self, table_name: str, rows: list[dict[str, Any]]) -> int:
        """As `PortableRows.import_rows`, but a plan comes in without its idempotency key:
        the key's caller is an API key of the exporting installation (keys are not
        exported), so here it would clash with a plan made under the same key, or answer
        whoever holds that key id now."""
        if table_name == "plans":
            rows = [{**r, **_NO_KEY} for r in rows]
        return await super().import_rows(table_name, rows)

    async def get(self, plan_id: int, *, for_update: bool = False) -> Plan | None:
        return await self.by_id(Plan, plan_id, lock=self.lock_of(for_update))

    async def for_edit(self, plan_id: int) -> Plan | None:
        """The plan, locked as an edit of its contents (not of its key) until the end."""
        return await self.by_id(Plan, plan_id, lock="edit")

    async def keyed(self, caller: int, key: str) -> Plan | None:
        """The plan `caller` made under idempotency key `key`."""
        stmt = select(Plan).where(Plan.idempotency_caller == caller, Plan.idempotency_key == key)
        return await self.session.scalar(stmt)

    async def add_once(self, plan: Plan) -> Plan | None:
        """Insert a plan; None when it carries an idempotency key its caller's other plan
        holds (a concurrent request with the key stored its plan first)."""
        try:
            # A savepoint: the clash must not abort the caller's transaction.
            async with self.session.begin_nested():
                self.session.add(plan)
                await self.session.flush()
        except IntegrityError as exc:
            if "uq_plans_idempotency" in str(exc.orig):
                return None
            raise Conflict(
                "a row this plan refers to was changed or deleted concurrently; retry"
            ) from exc
        await self.session.refresh(plan)
        return plan

    async def ids_of_client(self, client_id: int) -> list[int]:
        """A client's plan ids, in order."""
        stmt = select(Plan.id).where(Plan.client_id == client_id).order_by(Plan.id)
        return list(await self.session.scalars(stmt))

    async def ids_for(self, client_id: int | None) -> list[int]:
        """Plan ids of exactly this client (None: the user's own plans), in order."""
        stmt = select(Plan.id).where(Plan.client_id.is_not_distinct_from(client_id))
        return list(await self.session.scalars(stmt.order_by(Plan.id)))

    async def clients_of(self, plan_ids: Sequence[int]) -> dict[int, int | None]:
        """Plan id → its client id (None for the user's own plans)."""
        if not plan_ids:
            return {}
        stmt = select(Plan.id, Plan.client_id).where(Plan.id.in_(list(plan_ids)))
        return {p: c for p, c in await self.session.execute(stmt)}

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

    async def as_drafted(self, plan_id: int) -> tuple[Plan, str, dict[str, Any]] | None:
        """The plan with the title and SOP it was drafted with (before any edit); None when
        it is gone. Locked against deletion (forgetting its client waits) until the
        transaction ends (FOR KEY SHARE: plain updates do not wait)."""
        stmt = select(Plan).where(Plan.id == plan_id).with_for_update(read=True, key_share=True)
        plan = (await self.session.scalars(stmt)).one_or_none()
        if plan is None:
            return None
        first = (
            await self.session.scalars(
                select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.version == 1)
            )
        ).one_or_none()
        if first is None:
            return plan, plan.plan_title, plan.sop
        return plan, first.plan_title, first.sop

    async def replace_note(self, plan_id: int, prefix: str, note: str) -> None:
        """Replace plan `plan_id`'s notes that begin with `prefix` by `note`, in one UPDATE
        (an edit of the plan meanwhile is not undone)."""
        stmt = text(
            """
            UPDATE plans SET metadata = jsonb_set(metadata, '{notes}', (
                SELECT coalesce(jsonb_agg(n ORDER BY i), '[]'::jsonb)
                    || to_jsonb(CAST(:note AS text))
                FROM jsonb_array_elements(metadata -> 'notes') WITH ORDINALITY AS x(n, i)
                WHERE NOT starts_with(n #>> '{}', :prefix)))
            WHERE id = :id AND jsonb_typeof(metadata -> 'notes') = 'array'
              AND EXISTS (SELECT FROM jsonb_array_elements(metadata -> 'notes') AS y(n)
                          WHERE starts_with(n #>> '{}', :prefix))
            """
        )
        await self.session.execute(stmt, {"id": plan_id, "prefix": prefix, "note": note})

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


# The version of each prompt the migrations seed.
SEED_VERSION = "v1"


class PromptRepository(Repository, PortableRows):
    """Versioned prompt templates; one active version per name."""

    portable = (PromptTemplate,)
    seeded = frozenset({"prompt_templates"})

    def is_seed(self, row: dict[str, Any]) -> bool:
        # The migrations seed each prompt's v1; later versions are the user's own, and an
        # import replaced the one at the file's id without a word.
        return row.get("version") == SEED_VERSION

    async def held_by_others(self, table_name: str, rows: list[dict[str, Any]]) -> list[int]:
        """As `PortableRows.held_by_others`, and a version of the file that this folder
        holds under another id (its name and version are unique: the import failed on it
        as a file "not whole")."""
        clashes = await super().held_by_others(table_name, rows)
        own = {(r.get("template_name"), r.get("version")): r["id"] for r in rows}
        own = {k: i for k, i in own.items() if k[1] != SEED_VERSION}
        if own:
            held = await self.session.execute(
                select(
                    PromptTemplate.id, PromptTemplate.template_name, PromptTemplate.version
                ).where(PromptTemplate.template_name.in_({name for name, _ in own}))
            )
            clashes += [own[(n, v)] for i, n, v in held if own.get((n, v), i) != i]
        return sorted(set(clashes))

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
            .values(is_active=False, deactivated_at=datetime.now(UTC))
        )
        await self.session.flush()

    async def set_active(self, template: PromptTemplate) -> None:
        template.is_active = True
        await self.session.flush()


async def forget_client(session: AsyncSession, subject: Subject) -> dict[str, int]:
    """A forgotten client's plans (with versions, tasks, templates and runs) and the
    built-in calendar's blocks placed for them."""
    if subject.client_id is None:
        return {}
    # A schedule being written would write the client's blocks back: let it finish first.
    await CalendarEntryRepository(session).lock_blocks()
    plan_ids, templates = await PlanRepository(session).delete_for_client(subject.client_id)
    counts = await OntologyRepository(session).delete_templates(templates)
    blocks = await CalendarEntryRepository(session).delete_blocks_of_plans(plan_ids)
    return {"plans": len(plan_ids), **counts, "calendar_entries": blocks}
