"""Importing the workflow library: its workflows upserted by (name, version) and its
blueprints by name, everything validated before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from almanac.db.repository import new_row
from almanac.db.uow import UnitOfWork
from almanac.models import ServiceBlueprint, Workflow
from almanac.ontology.checks import dump_steps, steps_hours
from almanac.ontology.library import (
    Library,
    LibraryBlueprint,
    LibraryError,
    LibraryWorkflow,
    load_library,
    marked,
)
from almanac.ontology.repository import OntologyRepository


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did, per kind, and each item's id and action."""

    workflows: Counts = field(default_factory=Counts)
    blueprints: Counts = field(default_factory=Counts)
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, action: str, row_id: int, name: str, version: str | None) -> None:
        counts = self.workflows if kind == "workflow" else self.blueprints
        setattr(counts, action, getattr(counts, action) + 1)
        self.items.append(
            {"kind": kind, "action": action, "id": row_id, "name": name, "version": version}
        )


async def import_library(
    uow: UnitOfWork, path: Path | None = None, *, library: Library | None = None
) -> ImportReport:
    """Upsert the library's workflows by (name, version) and blueprints by name.

    Everything is validated (files, and blueprints' workflow names against the library and
    the database) before anything is written. Does not commit: the caller's UnitOfWork does.
    """
    lib = library if library is not None else load_library(path)
    repo = OntologyRepository(uow.session)
    await lock_names(repo, [(wf.name, wf.version) for _, wf in lib.workflows], lib.blueprints)
    own = {(wf.name, wf.version): wf for _, wf in lib.workflows}
    resolved = await _resolve(repo, lib, own)
    report = ImportReport()
    ids: dict[tuple[str, str], int] = {}
    for _, wf in lib.workflows:
        ids[(wf.name, wf.version)] = await _upsert_workflow(repo, wf, report)
    for (_, bp), refs in zip(lib.blueprints, resolved, strict=True):
        sequence: list[int] = []
        hours = 0.0
        for ref in refs:
            if isinstance(ref, LibraryWorkflow):
                sequence.append(ids[(ref.name, ref.version)])
                hours += sum(t.estimate_hours for s in ref.steps for t in s.tasks)
            else:
                sequence.append(ref.id)
                hours += steps_hours(ref.steps)[1]
        await _upsert_blueprint(repo, bp, sequence, round(hours, 4), report)
    return report


async def lock_names(
    repo: OntologyRepository,
    workflows: list[tuple[str, str]],
    blueprints: list[tuple[str, LibraryBlueprint]],
) -> None:
    """Lock every name an import writes, all first and in one order: locked one by one in
    the library's order, two imports of the same names in other orders each waited on a
    name the other held, and Postgres failed one (a deadlock, a 500)."""
    for name, version in sorted(set(workflows)):
        await repo.lock_workflow_name(name, version)
    for name in sorted({bp.name for _, bp in blueprints}):
        await repo.lock_blueprint_name(name)


async def _resolve(
    repo: OntologyRepository,
    lib: Library,
    own: dict[tuple[str, str], LibraryWorkflow],
) -> list[list[LibraryWorkflow | Workflow]]:
    """Each blueprint's workflows: from the library first, else already in the database."""
    newest: dict[str, LibraryWorkflow] = {}
    for _, wf in lib.workflows:
        newest[wf.name] = wf  # the last listed version of a name is its newest
    errors: list[tuple[str, str]] = []
    out: list[list[LibraryWorkflow | Workflow]] = []
    for where, bp in lib.blueprints:
        refs: list[LibraryWorkflow | Workflow] = []
        for n, ref in enumerate(bp.refs()):
            found: LibraryWorkflow | Workflow | None
            if ref.version is not None:
                found = own.get((ref.name, ref.version)) or await repo.find_workflow(
                    ref.name, ref.version
                )
            else:
                found = newest.get(ref.name) or await repo.latest_workflow(ref.name)
            if found is None:
                label = ref.name + (f" {ref.version}" if ref.version else "")
                errors.append(
                    (f"{where}.workflows[{n}]", f"no workflow {label!r} in the library or database")
                )
            else:
                refs.append(found)
        out.append(refs)
    if errors:
        raise LibraryError(errors)
    return out


def workflow_row(wf: LibraryWorkflow, steps: list[dict[str, Any]]) -> Workflow:
    """A new row for a library workflow, marked with the hash of what the library wrote."""
    return Workflow(
        name=wf.name,
        capability=wf.capability,
        version=wf.version,
        steps=steps,
        metadata_=marked(wf.capability, steps, wf.metadata),
    )


def blueprint_row(bp: LibraryBlueprint, sequence: list[int], hours: float) -> ServiceBlueprint:
    """A new row for a library blueprint over the resolved workflow ids."""
    return new_row(ServiceBlueprint, bp, workflow_sequence=sequence, estimated_duration_hrs=hours)


async def _upsert_workflow(
    repo: OntologyRepository, wf: LibraryWorkflow, report: ImportReport
) -> int:
    await repo.lock_workflow_name(wf.name, wf.version)
    steps = dump_steps(wf.steps)
    row = await repo.find_workflow(wf.name, wf.version)
    metadata = marked(wf.capability, steps, wf.metadata)
    if row is None:
        row = await repo.add(workflow_row(wf, steps))
        report.add("workflow", "created", row.id, wf.name, wf.version)
        return row.id
    if (row.capability, row.steps, row.metadata_) == (wf.capability, steps, metadata):
        report.add("workflow", "unchanged", row.id, wf.name, wf.version)
        return row.id
    row.capability, row.steps, row.metadata_ = wf.capability, steps, metadata
    await repo.save(row)
    report.add("workflow", "updated", row.id, wf.name, wf.version)
    return row.id


async def _upsert_blueprint(
    repo: OntologyRepository,
    bp: LibraryBlueprint,
    sequence: list[int],
    hours: float,
    report: ImportReport,
) -> None:
    await repo.lock_blueprint_name(bp.name)
    row = await repo.find_blueprint(bp.name)
    wanted = (bp.description, bp.offer_id, sequence, hours, bp.metadata)
    if row is None:
        row = await repo.add(blueprint_row(bp, sequence, hours))
        report.add("blueprint", "created", row.id, bp.name, None)
        return
    current = (
        row.description,
        row.offer_id,
        row.workflow_sequence,
        row.estimated_duration_hrs,
        row.metadata_,
    )
    if current == wanted:
        report.add("blueprint", "unchanged", row.id, bp.name, None)
        return
    row.description, row.offer_id, row.workflow_sequence = bp.description, bp.offer_id, sequence
    row.estimated_duration_hrs, row.metadata_ = hours, bp.metadata
    await repo.save(row)
    report.add("blueprint", "updated", row.id, bp.name, None)
