"""The repository base every domain's repository shares, against the real Postgres."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.repository import PAGE_MAX, Repository, assign, equal_to, row_out
from almanac.errors import Conflict, NotFound
from almanac.models import Sprint, Workflow
from almanac.types import OFFSET_MAX


def workflow(name: str, capability: str | None = "ops") -> Workflow:
    return Workflow(name=name, capability=capability, version="1.0", steps=[], metadata_={"k": 1})


async def test_add_reads_back_server_values_and_require_is_a_404(db_session: AsyncSession):
    repo = Repository(db_session)
    row = await repo.add(workflow("Onboarding"))
    assert row.id and row.created_at is not None  # server defaults read back
    assert await repo.require(Workflow, row.id, "workflow") is row
    with pytest.raises(NotFound, match="workflow 999999 not found"):
        await repo.require(Workflow, 999_999, "workflow")


async def test_page_counts_everything_and_holds_limit_and_offset_to_bounds(
    db_session: AsyncSession,
):
    repo = Repository(db_session)
    for i in range(5):
        await repo.add(workflow(f"W{i}", "ops" if i % 2 else "sales"))
    stmt = select(Workflow).where(*equal_to(Workflow, capability="ops", parent_workflow_id=None))
    rows, total = await repo.page(stmt, [Workflow.id.desc()], 1, 0)
    assert total == 2 and [r.name for r in rows] == ["W3"]
    rows, _ = await repo.page(stmt, [Workflow.id], 0, -5)  # held to limit 1, offset 0
    assert [r.name for r in rows] == ["W1"]
    rows, total = await repo.page(select(Workflow), [Workflow.id], 10**9, OFFSET_MAX * 10)
    assert rows == [] and total == 5  # the offset is held to OFFSET_MAX, no scan beyond
    assert PAGE_MAX == 1000


async def test_insert_new_keeps_the_first_row_of_a_unique_key(db_session: AsyncSession):
    repo = Repository(db_session)
    values = {"week_start": date(2026, 3, 2), "capacity_hrs": 30.0, "billable_target_pct": 60.0}
    first = await repo.insert_new(Sprint, values, "week_start")
    assert first is not None and first.capacity_hrs == 30.0
    again = await repo.insert_new(Sprint, {**values, "capacity_hrs": 10.0}, "week_start")
    assert again is None
    assert (await repo.require(Sprint, first.id, "sprint")).capacity_hrs == 30.0


async def test_a_concurrent_integrity_failure_is_a_409(db_session: AsyncSession):
    repo = Repository(db_session)
    with pytest.raises(Conflict, match="retry"):
        async with db_session.begin_nested():
            await repo.add(Workflow(name="Child", version="1", steps=[], parent_workflow_id=10**12))


async def test_delete_by_id_and_delete_where(db_session: AsyncSession):
    repo = Repository(db_session)
    a, b, c = [await repo.add(workflow(n)) for n in ("A", "B", "C")]
    assert (await repo.delete_by_id(Workflow, a.id)) is not None
    assert await repo.delete_by_id(Workflow, a.id) is None
    assert await repo.delete_where(Workflow, Workflow.id.in_([b.id, c.id, 10**12])) == 2


class _Out(BaseModel):
    id: int
    name: str
    metadata: dict[str, int]
    extra: str


class _Patch(BaseModel):
    name: str | None = None
    capability: str | None = None
    metadata: dict[str, int] | None = None


async def test_row_out_and_assign_map_metadata_and_respect_what_was_sent(
    db_session: AsyncSession,
):
    row = await Repository(db_session).add(workflow("Mapped"))
    out = row_out(_Out, row, extra="given")
    assert (out.name, out.metadata, out.extra) == ("Mapped", {"k": 1}, "given")

    assign(row, _Patch(capability=None), nullable=("capability",), given=("name", "metadata"))
    assert (row.name, row.capability, row.metadata_) == ("Mapped", None, {"k": 1})
    patch = _Patch(name="Renamed", metadata={"k": 2})
    assign(row, patch, nullable=("capability",), given=("name", "metadata"))
    assert (row.name, row.capability, row.metadata_) == ("Renamed", None, {"k": 2})
