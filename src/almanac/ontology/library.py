"""The workflow library: JSON files of workflows and blueprints, read and validated.

The starter library ships in `library/` (one workflow per file plus `blueprints.json`). A
user's folder or file uses the same shapes: a file holds one workflow object, a list of
workflows, or `{"workflows": [...], "blueprints": [...]}`; a file named `blueprints.json`
holds a list of blueprints. Blueprints name their workflows (optionally with a version).
Importing them (ontology/importing.py) upserts workflows by (name, version) and blueprints
by name, so importing the same files twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from almanac.errors import ValidationFailed
from almanac.http_problems import field_path
from almanac.ontology.checks import sop_problems
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
            loc = field_path(e["loc"])
            msg = str(e["msg"]).removeprefix("Value error, ")
            errors.append(
                (f"{where}{'' if loc.startswith('[') else '.'}{loc}" if loc else where, msg)
            )
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
    # Left out or null is none; any other non-list (`{}`, `0`, `""`) is a mistake, not none.
    workflow_docs, blueprint_docs = data.get("workflows"), data.get("blueprints")
    wrong = [
        (key, "must be a list")
        for key, docs in (("workflows", workflow_docs), ("blueprints", blueprint_docs))
        if docs is not None and not isinstance(docs, list)
    ]
    if wrong:
        raise LibraryError(wrong)
    workflow_docs, blueprint_docs = workflow_docs or [], blueprint_docs or []
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
