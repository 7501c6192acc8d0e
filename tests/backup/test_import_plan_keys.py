"""Importing plans that carry idempotency keys (migration 0040).

A plan's key belongs to the API key that asked for it (`idempotency_caller`), and API keys
are not exported: in the installation the file goes into, that id is nobody's or another
key's. The import keeps the plan and drops its key, so it neither clashes with a plan
made here under the same key nor answers another caller's retry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from almanac.backup.export import TABLES, import_all
from almanac.db.uow import UnitOfWork
from almanac.models import Plan
from almanac.planner.repository import PlanRepository

SOP: dict[str, Any] = {"title": "Shed", "summary": "", "steps": []}


async def _plan(uow: UnitOfWork, key: str, caller: int) -> Plan:
    plan = Plan(
        plan_title="Shed",
        intent="Build the garden shed",
        sop=SOP,
        idempotency_key=key,
        idempotency_caller=caller,
        idempotency_hash="0" * 64,
    )
    uow.session.add(plan)
    await uow.session.flush()
    return plan


def _file(**tables: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TABLES}
    rows.update(tables)
    return rows


async def test_a_plan_whose_key_is_taken_here_is_imported_with_its_history(
    uow: UnitOfWork,
) -> None:
    """Another installation's plan under (caller 0, "shed") meets this one's: before, the
    partial unique index made the plan a silent skip and its version row a foreign-key
    traceback."""
    here = await _plan(uow, "shed", 0)
    [row] = await PlanRepository(uow.session).export_rows("plans", here.id - 1, 1)
    theirs = {**row, "id": here.id + 1000, "plan_title": "Their shed"}
    version = {
        "id": 5000,
        "plan_id": theirs["id"],
        "version": 1,
        "plan_title": "Their shed",
        "sop": SOP,
        "status": "draft",
        "note": None,
        "created_at": row["created_at"],
    }
    report = await import_all(uow, _file(plans=[theirs], plan_versions=[version]))
    assert report.inserted["plans"] == 1 and report.inserted["plan_versions"] == 1
    imported = await uow.session.get(Plan, theirs["id"])
    assert imported is not None and imported.plan_title == "Their shed"
    assert (imported.idempotency_key, imported.idempotency_caller) == (None, None)
    # The plan made here keeps its key: a retry here still finds it.
    assert await PlanRepository(uow.session).keyed(0, "shed") is not None


async def test_an_imported_key_never_answers_a_caller_of_this_installation(
    uow: UnitOfWork,
) -> None:
    """Caller 7 in the file was an API key there; key 7 here is someone else."""
    there = await _plan(uow, "weekly", 7)
    [row] = await PlanRepository(uow.session).export_rows("plans", there.id - 1, 1)
    await uow.session.delete(there)
    await uow.session.flush()
    await import_all(uow, _file(plans=[row]))
    assert await PlanRepository(uow.session).keyed(7, "weekly") is None
    hashes = await uow.session.scalars(select(Plan.idempotency_hash).where(Plan.id == row["id"]))
    assert list(hashes) == [None]
