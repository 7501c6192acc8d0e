"""Importing into a data folder that already holds other data at the file's ids.

Rows keep their ids, and a row whose id is taken was skipped as "already present". Into
a folder with data of its own, that skipped the file's plans and tasks (another
installation's plan 1 is not this one's plan 1) while their calendar blocks went in and
hung off this folder's plans: "imported 2 rows (43 already present)". The import now
refuses, before writing anything, and names what clashes; the same file again, or rows
changed here since they were imported, still count as present.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from almanac.backup.export import TABLES, ExportFileError, import_all
from almanac.db.uow import UnitOfWork
from almanac.models import CalendarEntry, Plan
from almanac.planner.repository import PlanRepository

SOP: dict[str, Any] = {"title": "Shed", "summary": "", "steps": []}


def _file(**tables: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TABLES}
    rows.update(tables)
    return rows


async def _here(uow: UnitOfWork) -> dict[str, Any]:
    plan = Plan(plan_title="Shed", intent="Build the garden shed", sop=SOP)
    uow.session.add(plan)
    await uow.session.flush()
    [row] = await PlanRepository(uow.session).export_rows("plans", plan.id - 1, 1)
    return row


async def test_another_installations_rows_at_the_same_ids_are_refused_naming_them(
    uow: UnitOfWork,
) -> None:
    row = await _here(uow)
    made = (datetime.fromisoformat(row["created_at"]) - timedelta(days=3)).isoformat()
    theirs = {**row, "plan_title": "Audit for Acme", "intent": "Run an audit", "created_at": made}
    entry = {
        "id": 900_001,
        "uid": "their-block",
        "title": "Audit block",
        "start_at": "2027-03-15T13:00:00+00:00",
        "end_at": "2027-03-15T14:00:00+00:00",
    }
    before = await uow.session.scalar(select(func.count()).select_from(CalendarEntry))
    with pytest.raises(ExportFileError) as err:
        await import_all(uow, _file(plans=[theirs], calendar_entries=[entry]))
    assert f"plans {row['id']}" in err.value.message, err.value.message
    assert "fresh data folder" in err.value.message
    assert err.value.errors[0]["field"] == "file"
    # Nothing went in, the block of the file's plan included.
    after = await uow.session.scalar(select(func.count()).select_from(CalendarEntry))
    assert after == before
    plan = await uow.session.get(Plan, row["id"])
    assert plan is not None and plan.plan_title == "Shed"


async def test_the_same_rows_again_or_changed_here_since_are_present(uow: UnitOfWork) -> None:
    row = await _here(uow)
    report = await import_all(uow, _file(plans=[row]))
    assert (report.inserted["plans"], report.present["plans"]) == (0, 1)
    # Changed here after the import (same row: same creation time): still present.
    edited = {**row, "plan_title": "Shed, larger"}
    report = await import_all(uow, _file(plans=[edited]))
    assert report.present["plans"] == 1
    # The same content made at another time (a starter workflow imported in both
    # installations) is the same row too.
    made_again = {**row, "created_at": row["created_at"].replace(row["created_at"][:4], "2020")}
    report = await import_all(uow, _file(plans=[made_again]))
    assert report.present["plans"] == 1


async def test_a_row_referring_to_one_the_file_lacks_is_a_file_error_naming_it(
    uow: UnitOfWork,
) -> None:
    """A file cut short (its plans kept, the process templates they refer to left out)
    ended `almanac import` with Postgres' foreign-key traceback."""
    row = await _here(uow)
    theirs = {**row, "id": row["id"] + 1000, "process_template_id": 987_654}
    with pytest.raises(ExportFileError) as err:
        await import_all(uow, _file(plans=[theirs]))
    message = err.value.message
    assert message.startswith("plans: a row refers to process_templates 987654"), message
    assert "not in the file" in message and err.value.errors[0]["field"] == "file", err.value.errors
