"""The starter library on every start: new workflows added, untouched ones updated.

Each workflow written from the library carries `metadata._library.hash`, the hash of its
content (capability, steps, metadata) as the library shipped it. At start a library row
whose content still has that hash was never edited, so a newer release may replace it; a
row whose content differs was edited by the user and is kept as it is. Blueprints are
only added, never changed.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.ontology.checks import dump_steps, steps_hours
from almanac.ontology.importing import ImportReport, blueprint_row, lock_names, workflow_row
from almanac.ontology.library import MARKER, content_hash, load_library, marked
from almanac.ontology.repository import OntologyRepository

logger = logging.getLogger(__name__)


async def sync_starter_library(uow: UnitOfWork) -> ImportReport:
    """Add the library's missing workflows and blueprints; refresh rows nobody edited.

    Does not commit: the caller does. Report actions: created, updated, unchanged, and
    `kept` for rows the user edited.
    """
    library = load_library()
    repo = OntologyRepository(uow.session)
    report = ImportReport()
    await lock_names(
        repo, [(wf.name, wf.version) for _, wf in library.workflows], library.blueprints
    )
    for _, wf in library.workflows:
        await repo.lock_workflow_name(wf.name, wf.version)
        steps = dump_steps(wf.steps)
        wanted = content_hash(wf.capability, steps, wf.metadata)
        row = await repo.find_workflow(wf.name, wf.version)
        if row is None:
            row = await repo.add(workflow_row(wf, steps))
            report.add("workflow", "created", row.id, wf.name, wf.version)
            continue
        recorded = (row.metadata_ or {}).get(MARKER, {}).get("hash")
        current = content_hash(row.capability, row.steps, row.metadata_)
        if current == wanted:
            action = "unchanged"
        elif recorded == current:  # as the library once wrote it: never edited
            row.capability, row.steps = wf.capability, steps
            row.metadata_ = marked(wf.capability, steps, wf.metadata)
            await repo.save(row)
            action = "updated"
        else:
            action = "kept"
        if action != "kept":
            report.add("workflow", action, row.id, wf.name, wf.version)
        else:
            report.items.append(
                {"kind": "workflow", "action": "kept", "id": row.id, "name": wf.name}
            )
    for _, bp in library.blueprints:
        await repo.lock_blueprint_name(bp.name)
        if await repo.find_blueprint(bp.name) is not None:
            continue
        sequence, hours = [], 0.0
        for ref in bp.refs():
            found = (
                await repo.find_workflow(ref.name, ref.version)
                if ref.version
                else await repo.latest_workflow(ref.name)
            )
            if found is None:
                break
            sequence.append(found.id)
            hours += steps_hours(found.steps)[1]
        else:
            row_bp = await repo.add(blueprint_row(bp, sequence, round(hours, 4)))
            report.add("blueprint", "created", row_bp.id, bp.name, None)
    return report


async def load_starter_library(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Run the sync in its own transaction at start; a failure is logged, never fatal."""
    try:
        async with unit_of_work(sessionmaker) as uow:
            report = await sync_starter_library(uow)
    except Exception:
        logger.exception("the starter workflow library could not be loaded")
        return
    kept = sum(1 for item in report.items if item["action"] == "kept")
    w = report.workflows
    if w.created or w.updated or kept:
        logger.info(
            "starter library: %d workflows added, %d updated, %d kept as you edited them",
            w.created,
            w.updated,
            kept,
        )
