"""The starter library at start: added once, refreshed by a release, user edits kept."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.models import ServiceBlueprint, Workflow
from almanac.ontology import starter
from almanac.ontology.library import MARKER, Library, load_library
from almanac.ontology.starter import sync_starter_library


async def _workflows(db_session: AsyncSession) -> dict[str, Workflow]:
    rows = (await db_session.scalars(select(Workflow))).all()
    return {w.name: w for w in rows}


async def test_first_start_loads_then_changes_nothing(uow: UnitOfWork, db_session: AsyncSession):
    count = len(load_library().workflows)
    report = await sync_starter_library(uow)
    assert report.workflows.created == count and report.blueprints.created >= 1
    stored = await _workflows(db_session)
    assert all(MARKER in w.metadata_ for w in stored.values())
    again = await sync_starter_library(uow)
    assert again.workflows.unchanged == count and again.workflows.created == 0
    assert again.blueprints.created == 0
    blueprints = (await db_session.scalars(select(ServiceBlueprint))).all()
    assert len(blueprints) == report.blueprints.created


async def test_a_release_updates_unedited_rows_and_keeps_edited_ones(
    uow: UnitOfWork, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    await sync_starter_library(uow)
    stored = await _workflows(db_session)
    edited = stored["Discovery call"]
    steps = copy.deepcopy(edited.steps)
    steps[0]["tasks"][0]["estimate_hours"] = 7.5  # the user's own estimate
    edited.steps = steps
    await db_session.flush()

    # The next release raises every first estimate by half an hour.
    released = load_library()
    newer = Library(blueprints=released.blueprints)
    for where, wf in released.workflows:
        bumped = wf.model_copy(deep=True)
        bumped.steps[0].tasks[0].estimate_hours += 0.5
        newer.workflows.append((where, bumped))
    monkeypatch.setattr(starter, "load_library", lambda: newer)
    report = await sync_starter_library(uow)

    kept = [i["name"] for i in report.items if i["action"] == "kept"]
    assert kept == ["Discovery call"]
    assert report.workflows.updated == len(newer.workflows) - 1
    await db_session.refresh(edited)
    assert edited.steps[0]["tasks"][0]["estimate_hours"] == 7.5
    for _, wf in newer.workflows:
        if wf.name != "Discovery call":
            row = (await _workflows(db_session))[wf.name]
            assert row.steps[0]["tasks"][0]["estimate_hours"] == wf.steps[0].tasks[0].estimate_hours
