"""The starter library validates, and importing it (or a user's files) is idempotent."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.models import ServiceBlueprint, Workflow
from almanac.ontology.importing import import_library
from almanac.ontology.library import LIBRARY_DIR, LibraryError, load_library
from almanac.ontology.sop import SOP, check_sop
from tests.ontology.helpers import API, steps, task


async def _count(db_session: AsyncSession, model: type[Workflow] | type[ServiceBlueprint]) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(model)) or 0)


def test_starter_library_is_valid_and_complete():
    lib = load_library()
    files = sorted(p.name for p in LIBRARY_DIR.glob("*.json"))
    assert "blueprints.json" in files and len(files) >= 9
    names = {wf.name for _, wf in lib.workflows}
    assert len(lib.workflows) >= 8 and len(names) == len(lib.workflows)
    for expected in ("Discovery call", "Weekly review", "Client onboarding", "Newsletter launch"):
        assert expected in names
    for where, wf in lib.workflows:
        assert wf.capability in {"discovery", "delivery", "ops", "growth"}, where
        assert wf.metadata["description"] and wf.metadata["keywords"], where
        assert check_sop(SOP(title=wf.name, steps=wf.steps)) == [], where
        tasks = [t for s in wf.steps for t in s.tasks]
        assert len(tasks) >= 4 and all(0 < t.estimate_hours <= 8 for t in tasks), where
        assert any(t.depends_on for t in tasks), where
    assert {wf.capability for _, wf in lib.workflows} == {"discovery", "delivery", "ops", "growth"}
    assert len(lib.blueprints) >= 1
    for _, bp in lib.blueprints:
        assert all(ref.name in names for ref in bp.refs())


async def test_import_twice_changes_nothing(db_session: AsyncSession, client: httpx.AsyncClient):
    uow = UnitOfWork(db_session)
    first = await import_library(uow)
    lib = load_library()
    assert (first.workflows.created, first.workflows.updated) == (len(lib.workflows), 0)
    assert first.blueprints.created == len(lib.blueprints)
    # xmin changes with every row version, even inside one transaction (updated_at would not).
    versions = text(
        "SELECT id, xmin::text FROM workflows "
        "UNION ALL SELECT id, xmin::text FROM service_blueprints"
    )
    before = (await db_session.execute(versions)).all()

    second = await import_library(uow)
    assert (second.workflows.created, second.workflows.updated) == (0, 0)
    assert second.workflows.unchanged == len(lib.workflows)
    assert (second.blueprints.created, second.blueprints.updated) == (0, 0)
    assert await _count(db_session, Workflow) == len(lib.workflows)
    assert await _count(db_session, ServiceBlueprint) == len(lib.blueprints)
    assert (await db_session.execute(versions)).all() == before

    # Imported rows are what the API serves, with the blueprint's hours derived.
    listed = (await client.get(f"{API}/workflows", params={"q": "weekly review"})).json()
    assert listed["items"][0]["capability"] == "ops" and listed["items"][0]["total_hours"] > 0
    bps = (await client.get(f"{API}/blueprints")).json()["items"]
    for bp in bps:
        hours = 0.0
        for wid in bp["workflow_sequence"]:
            hours += (await client.get(f"{API}/workflows/{wid}")).json()["total_hours"]
        assert bp["estimated_duration_hrs"] == pytest.approx(hours)


def _write(folder: Path, name: str, doc: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


async def test_user_folder_upserts_by_name_and_version(db_session: AsyncSession, tmp_path: Path):
    uow = UnitOfWork(db_session)
    flow = {"name": "Invoice run", "capability": "ops", "version": "1.0", "steps": steps()}
    _write(tmp_path, "invoice.json", flow)
    _write(
        tmp_path,
        "blueprints.json",
        [{"name": "Back office", "workflows": ["Invoice run", {"name": "Invoice run"}]}],
    )
    report = await import_library(uow, tmp_path)
    assert report.workflows.created == 1 and report.blueprints.created == 1

    _write(tmp_path, "invoice.json", {**flow, "steps": steps(task("a", 5))})
    report = await import_library(uow, tmp_path)
    assert report.workflows.updated == 1 and report.blueprints.updated == 1  # hours changed
    bp = (await db_session.scalars(select(ServiceBlueprint))).one()
    assert bp.estimated_duration_hrs == 10.0

    # A new version is a new workflow; the single file form works too.
    single = _write(tmp_path, "v2.json", {**flow, "version": "2.0"})
    report = await import_library(uow, single)
    assert report.workflows.created == 1
    assert await _count(db_session, Workflow) == 2


async def test_bundle_file_and_database_references(db_session: AsyncSession, tmp_path: Path):
    uow = UnitOfWork(db_session)
    await import_library(uow)
    bundle = {
        "workflows": [{"name": "Retainer check-in", "capability": "delivery", "steps": steps()}],
        "blueprints": [
            {
                "name": "Retainer",
                "workflows": [
                    {"name": "Discovery call", "version": "1.0"},  # from the database
                    "Retainer check-in",
                ],
            }
        ],
    }
    report = await import_library(uow, _write(tmp_path, "bundle.json", bundle))
    assert report.workflows.created == 1 and report.blueprints.created == 1


async def test_invalid_files_write_nothing(db_session: AsyncSession, tmp_path: Path):
    uow = UnitOfWork(db_session)
    good = {"name": "Good", "capability": "ops", "steps": steps()}
    _write(tmp_path, "a_good.json", good)
    _write(
        tmp_path,
        "b_cycle.json",
        {
            "name": "Loop",
            "capability": "ops",
            "steps": steps(task("a", 1, ["b"]), task("b", 1, ["a"])),
        },
    )
    _write(
        tmp_path,
        "c_naive.json",
        {**good, "name": "Naive", "steps": steps(task("a", 1, deadline="2026-01-01T00:00:00"))},
    )
    (tmp_path / "d_broken.json").write_text("{nope", encoding="utf-8")
    _write(tmp_path, "e_dupe.json", good)
    with pytest.raises(LibraryError) as info:
        await import_library(uow, tmp_path)
    where = [e["field"] for e in info.value.errors]
    assert "b_cycle.json.steps" in where
    assert "c_naive.json.steps[0].tasks[0].deadline" in where
    assert "d_broken.json" in where and "e_dupe.json" in where
    assert await _count(db_session, Workflow) == 0


async def test_unknown_blueprint_reference_writes_nothing(db_session: AsyncSession, tmp_path: Path):
    _write(tmp_path, "flow.json", {"name": "Flow", "capability": "ops", "steps": steps()})
    _write(tmp_path, "blueprints.json", [{"name": "BP", "workflows": ["Flow", "Missing"]}])
    with pytest.raises(LibraryError) as info:
        await import_library(UnitOfWork(db_session), tmp_path)
    assert info.value.errors[0]["field"] == "blueprints.json[0].workflows[1]"
    assert await _count(db_session, Workflow) == 0


def test_missing_path_and_empty_folder(tmp_path: Path):
    with pytest.raises(LibraryError):
        load_library(tmp_path / "nope")
    with pytest.raises(LibraryError):
        load_library(tmp_path)


async def test_a_bundle_whose_workflows_or_blueprints_are_not_lists_is_422(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """`{"workflows": {}}` (or 0, "", false) is a mistake, not an empty import answered 200;
    the 422 names the key. Left out or null stays "none of those"."""
    for body in ({"workflows": {}}, {"workflows": 0}, {"blueprints": ""}, {"blueprints": False}):
        r = await client.post(f"{API}/workflows/import", json=body)
        assert r.status_code == 422, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]] == list(body), r.text
    r = await client.post(f"{API}/workflows/import", json={"workflows": None, "blueprints": []})
    assert r.status_code == 200, r.text
    assert await _count(db_session, Workflow) == 0


async def test_imports_of_the_same_names_in_other_orders_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    """Each import locked a name as it reached it: two imports of the same workflows in
    other orders each held a name the other waited for, and Postgres failed one (a 500)."""
    wfs = [
        {"name": f"Flow {n:02d}", "capability": "ops", "steps": steps(task("a"))} for n in range(40)
    ]
    rng = random.Random(3)
    orders = [wfs, wfs[::-1], *(rng.sample(wfs, len(wfs)) for _ in range(3))]
    answers = await asyncio.gather(
        *(committed_client.post(f"{API}/workflows/import", json={"workflows": o}) for o in orders)
    )
    assert [a.status_code for a in answers] == [200] * len(orders), [
        a.text[:200] for a in answers if a.status_code != 200
    ]
    listed = await committed_client.get(f"{API}/workflows", params={"q": "Flow", "limit": 200})
    assert listed.json()["total"] == 40
