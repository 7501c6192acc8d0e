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


async def _prompt_here(uow: UnitOfWork, content: str) -> dict[str, Any]:
    from almanac.models import PromptTemplate
    from almanac.planner.repository import PromptRepository

    version = f"v{900 + len(content) % 50}"
    row = PromptTemplate(
        template_name="sop_generator", template_type="system", content=content,
        version=version, is_active=False,
    )  # fmt: skip
    uow.session.add(row)
    await uow.session.flush()
    [out] = await PromptRepository(uow.session).export_rows("prompt_templates", row.id - 1, 1)
    return out


async def test_a_prompt_version_of_the_users_is_not_overwritten_by_another_installations(
    uow: UnitOfWork,
) -> None:
    """Prompt templates are seeded by the migrations, so the file's rows replaced this
    folder's by id: a version tuned here for months was overwritten without a word."""
    from almanac.models import PromptTemplate

    mine = await _prompt_here(uow, "MY SOP PROMPT, tuned over months")
    made = (datetime.fromisoformat(mine["created_at"]) - timedelta(days=3)).isoformat()
    theirs = {**mine, "content": "You are the planning assistant. Be terse.", "created_at": made}
    with pytest.raises(ExportFileError) as err:
        await import_all(uow, _file(prompt_templates=[theirs]))
    assert f"prompt_templates {mine['id']}" in err.value.message, err.value.message
    kept = await uow.session.get(PromptTemplate, mine["id"])
    assert kept is not None and kept.content == "MY SOP PROMPT, tuned over months"
    # The same version under another id here (name and version are one row's): a clash
    # named as such, not "a row breaks a constraint: the file is not whole".
    moved = {**theirs, "id": mine["id"] + 1000}
    with pytest.raises(ExportFileError) as err:
        await import_all(uow, _file(prompt_templates=[moved]))
    assert f"prompt_templates {mine['id'] + 1000}" in err.value.message, err.value.message
    # The same row again is present, as every table's.
    report = await import_all(uow, _file(prompt_templates=[mine]))
    assert report.inserted["prompt_templates"] == 0


async def _starter_row(uow: UnitOfWork, n: int) -> dict[str, Any]:
    from almanac.models import Workflow
    from almanac.ontology.repository import OntologyRepository
    from almanac.ontology.starter import sync_starter_library

    await sync_starter_library(uow)
    ids = sorted((await uow.session.scalars(select(Workflow.id))).all())
    repo = OntologyRepository(uow.session)
    [row] = await repo.export_rows("workflows", ids[n] - 1, 1)
    return row


def _edited(row: dict[str, Any], title: str) -> dict[str, Any]:
    steps = [{**row["steps"][0], "title": title}, *row["steps"][1:]]
    made = (datetime.fromisoformat(row["created_at"]) - timedelta(days=30)).isoformat()
    return {**row, "steps": steps, "created_at": made}


async def test_a_starter_workflow_nobody_edited_here_gives_way_to_the_files_edit(
    uow: UnitOfWork,
) -> None:
    """Moved to a new machine served once (its starter library written at start), the
    file's edited starter workflow was "other data at the file's ids": refused, with
    advice to use a fresh folder, which this was."""
    from almanac.models import Workflow

    row = await _starter_row(uow, 0)
    theirs = _edited(row, "Kick-off, as I run it")
    report = await import_all(uow, _file(workflows=[theirs]))
    assert report.inserted["workflows"] == 1
    stored = await uow.session.get(Workflow, row["id"], populate_existing=True)
    assert stored is not None and stored.steps[0]["title"] == "Kick-off, as I run it"
    again = await import_all(uow, _file(workflows=[theirs]))  # repeated: nothing added
    assert (again.inserted["workflows"], again.present["workflows"]) == (0, 1)


async def test_a_starter_workflow_edited_here_is_still_a_clash(uow: UnitOfWork) -> None:
    from almanac.models import Workflow

    row = await _starter_row(uow, 1)
    mine = await uow.session.get(Workflow, row["id"])
    assert mine is not None
    mine.steps = [{**mine.steps[0], "title": "Mine, edited here"}, *mine.steps[1:]]
    await uow.session.flush()
    with pytest.raises(ExportFileError) as err:
        await import_all(uow, _file(workflows=[_edited(row, "Theirs, edited there")]))
    assert f"workflows {row['id']}" in err.value.message, err.value.message
    kept = await uow.session.get(Workflow, row["id"], populate_existing=True)
    assert kept is not None and kept.steps[0]["title"] == "Mine, edited here"


async def test_a_value_a_rule_refuses_names_the_rule_not_a_file_cut_short(
    uow: UnitOfWork,
) -> None:
    from almanac.memory.repository import EventRepository
    from almanac.models import Event

    event = Event(
        content="Invoice Acme", event_type="memory", event_source="user", salience_score=0.5
    )
    uow.session.add(event)
    await uow.session.flush()
    [row] = await EventRepository(uow.session).export_rows("events", event.id - 1, 1)
    theirs = {**row, "id": row["id"] + 10_000, "memory_scope": "nowhere"}
    with pytest.raises(ExportFileError) as err:
        await import_all(uow, _file(events=[theirs]))
    message = err.value.message
    assert "rule 'ck_events_memory_scope'" in message and "not whole" not in message, message
