"""The workflow library: JSON files of workflows and blueprints, validated and upserted.

The starter library ships in `library/` (one workflow per file plus `blueprints.json`). A
user's folder or file uses the same shapes: a file holds one workflow object, a list of
workflows, or `{"workflows": [...], "blueprints": [...]}`; a file named `blueprints.json`
holds a list of blueprints. Blueprints name their workflows (optionally with a version).
Workflows are upserted by (name, version) and blueprints by name, so importing the same
files twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from almanac.db.repository import new_row
from almanac.db.uow import UnitOfWork
from almanac.errors import ValidationFailed
from almanac.models import ServiceBlueprint, Workflow
from almanac.ontology.checks import dump_steps, sop_problems, steps_hours
from almanac.ontology.repository import OntologyRepository
from almanac.ontology.schemas import (
    Capability,
    Description,
    Name,
    SmallId,
    Steps,
    Version,
)
from almanac.types import Metadata, Strict

LIBRARY_DIR = Path(__file__).with_name("library")
BLUEPRINTS_FILE = "blueprints.json"
# Metadata key recording the hash of a workflow as the library wrote it (see starter.py).
MARKER = "_library"


def content_hash(capability: str | None, steps: Any, metadata: dict[str, Any] | None) -> str:
    """The hash of what a user can edit, the library marker left out."""
    meta = {k: v for k, v in (metadata or {}).items() if k != MARKER}
    body = json.dumps([capability, steps, meta], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def marked(capability: str | None, steps: Any, metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` plus the marker that says this content came from the library."""
    return {**metadata, MARKER: {"hash": content_hash(capability, steps, metadata)}}


_MAX_FILE_BYTES = 2_000_000


class LibraryWorkflow(Strict):
    """A workflow as written in a library file."""

    name: Name
    capability: Capability
    version: Version = "1.0"
    steps: Steps
    metadata: Metadata = Field(default_factory=dict)


class WorkflowRef(Strict):
    name: Name
    version: Version | None = None


class LibraryBlueprint(Strict):
    """A blueprint as written in a library file: its workflows named, not numbered."""

    name: Name
    description: Description | None = None
    offer_id: SmallId | None = None
    workflows: Annotated[list[Name | WorkflowRef], Field(min_length=1, max_length=100)]
    metadata: Metadata = Field(default_factory=dict)

    def refs(self) -> list[WorkflowRef]:
        return [WorkflowRef(name=w) if isinstance(w, str) else w for w in self.workflows]


@dataclass
class Library:
    """Validated library contents; `source` labels say which file each item came from."""

    workflows: list[tuple[str, LibraryWorkflow]] = field(default_factory=list)
    blueprints: list[tuple[str, LibraryBlueprint]] = field(default_factory=list)


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


class LibraryError(ValidationFailed):
    """The library files are invalid; nothing was imported."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{where}: {message}" for where, message in errors[:10])
        more = f"; and {len(errors) - 10} more" if len(errors) > 10 else ""
        super().__init__(f"invalid workflow library: {shown}{more}")
        self.errors = [{"field": where, "message": message} for where, message in errors]


# -- loading ------------------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
    return [path]


def _read(path: Path, errors: list[tuple[str, str]]) -> Any:
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            errors.append((path.name, f"larger than {_MAX_FILE_BYTES} bytes"))
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        errors.append((path.name, f"cannot read JSON: {exc}"))
        return None


def _validated(model: Any, data: Any, where: str, errors: list[tuple[str, str]]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"])
            msg = str(e["msg"]).removeprefix("Value error, ")
            errors.append((f"{where}.{loc}" if loc else where, msg))
        return None


def _split(path: Path, data: Any) -> tuple[list[Any], list[Any]]:
    """(workflow documents, blueprint documents) in one file."""
    if path.name == BLUEPRINTS_FILE:
        return [], data if isinstance(data, list) else [data]
    if isinstance(data, dict) and ("workflows" in data or "blueprints" in data):
        if set(data) - {"workflows", "blueprints"}:
            raise ValueError("a bundle has only the keys workflows and blueprints")
        workflows, blueprints = data.get("workflows", []), data.get("blueprints", [])
        if not isinstance(workflows, list) or not isinstance(blueprints, list):
            raise ValueError("workflows and blueprints must be lists")
        return workflows, blueprints
    return (data if isinstance(data, list) else [data]), []


def load_library(path: Path | None = None) -> Library:
    """Read and validate every file (the starter library by default); raise LibraryError."""
    root = path or LIBRARY_DIR
    errors: list[tuple[str, str]] = []
    if not root.exists():
        raise LibraryError([(str(root), "no such file or folder")])
    library = Library()
    files = _files(root)
    if not files:
        raise LibraryError([(str(root), "no .json files found")])
    for file in files:
        data = _read(file, errors)
        if data is None:
            continue
        try:
            workflow_docs, blueprint_docs = _split(file, data)
        except ValueError as exc:
            errors.append((file.name, str(exc)))
            continue
        _add(library, file.name, workflow_docs, blueprint_docs, errors)
    _check_duplicates(library, errors)
    if errors:
        raise LibraryError(errors)
    return library


def library_from_bundle(data: Any) -> Library:
    """A library sent as one `{"workflows": [...], "blueprints": [...]}` document."""
    errors: list[tuple[str, str]] = []
    if not isinstance(data, dict) or set(data) - {"workflows", "blueprints"}:
        raise LibraryError([("body", "an object with the keys workflows and blueprints")])
    workflow_docs, blueprint_docs = data.get("workflows") or [], data.get("blueprints") or []
    if not isinstance(workflow_docs, list) or not isinstance(blueprint_docs, list):
        raise LibraryError([("body", "workflows and blueprints must be lists")])
    if len(workflow_docs) + len(blueprint_docs) > 2000:
        raise LibraryError([("body", "at most 2,000 workflows and blueprints at once")])
    library = Library()
    _add(library, "workflows", workflow_docs, [], errors)
    _add(library, "blueprints", [], blueprint_docs, errors, force_index=True)
    _check_duplicates(library, errors)
    if errors:
        raise LibraryError(errors)
    return library


def _add(
    library: Library,
    label: str,
    workflow_docs: list[Any],
    blueprint_docs: list[Any],
    errors: list[tuple[str, str]],
    *,
    force_index: bool = False,
) -> None:
    for n, doc in enumerate(workflow_docs):
        single = len(workflow_docs) == 1 and not force_index and label != "workflows"
        where = label if single else f"{label}[{n}]"
        wf = _validated(LibraryWorkflow, doc, where, errors)
        if wf is not None:
            errors += [(f"{where}.{f}", m) for f, m in sop_problems(wf.name, wf.steps)]
            library.workflows.append((where, wf))
    for n, doc in enumerate(blueprint_docs):
        where = f"{label}[{n}]"
        bp = _validated(LibraryBlueprint, doc, where, errors)
        if bp is not None:
            library.blueprints.append((where, bp))


def library_bundle(library: Library) -> dict[str, Any]:
    """The inverse of `library_from_bundle`: what the CLI sends to a server."""
    return {
        "workflows": [wf.model_dump(mode="json") for _, wf in library.workflows],
        "blueprints": [
            bp.model_dump(mode="json", exclude_none=True) for _, bp in library.blueprints
        ],
    }


def _check_duplicates(library: Library, errors: list[tuple[str, str]]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for where, wf in library.workflows:
        key = (wf.name, wf.version)
        if key in seen:
            errors.append((where, f"workflow {wf.name!r} {wf.version} is also in {seen[key]}"))
        seen.setdefault(key, where)
    names: dict[str, str] = {}
    for where, bp in library.blueprints:
        if bp.name in names:
            errors.append((where, f"blueprint {bp.name!r} is also in {names[bp.name]}"))
        names.setdefault(bp.name, where)


# -- importing ----------------------------------------------------------------------------


async def import_library(
    uow: UnitOfWork, path: Path | None = None, *, library: Library | None = None
) -> ImportReport:
    """Upsert the library's workflows by (name, version) and blueprints by name.

    Everything is validated (files, and blueprints' workflow names against the library and
    the database) before anything is written. Does not commit: the caller's UnitOfWork does.
    """
    lib = library if library is not None else load_library(path)
    repo = OntologyRepository(uow.session)
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
