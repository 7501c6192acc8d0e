"""`almanac export` / `almanac import`: everything the user owns as one JSONL file.

Format (version 1), one JSON object per line:

- line 1, the header: `{"format": "almanac-export", "version": 1, "exported_at": ISO 8601,
  "schema": "<alembic revision>", "tables": {"events": 12, ...}}`
- then one line per row: `{"table": "<name>", "row": {<column>: <value>, ...}}`, tables in
  the order of `TABLES` (parents before children), rows in id order. Times are ISO 8601
  with offset; JSON columns are JSON; generated columns (full-text vectors) are not
  written, and neither are the tables in `EXCLUDED` (derived data the import, its
  triggers and `reindex` rebuild, and what belongs to one installation rather than to
  the user). Every table of the schema is in exactly one of `TABLES` and `EXCLUDED`.

Rows keep their ids, so importing into a fresh data folder gives the same answers from
every list and read endpoint, and importing the same file again inserts nothing (a row
whose id or natural key is already there is skipped and counted as present). Each table
is read and written through the repository that owns it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.repository import CalendarEntryRepository
from almanac.db.portable import PortableRows
from almanac.db.portable_check import row_problem
from almanac.db.uow import UnitOfWork
from almanac.errors import ValidationFailed
from almanac.memory.documents.repository import DocumentRepository
from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.graph_signal import link_memories
from almanac.memory.repository import EventRepository, FactRepository
from almanac.observer.repository import ObserverRepository
from almanac.ontology.repository import OntologyRepository
from almanac.planner.repository import PlanRepository, PromptRepository
from almanac.planner.task_repository import TaskRepository
from almanac.scheduler.repository import SchedulerRepository
from almanac.state import AppState

FORMAT = "almanac-export"
VERSION = 1
_PAGE = 500

# Parents before children. events.promoted_to_fact_id points forward (to facts, which
# point back at events), so it is written after the facts.
TABLES: tuple[tuple[str, Callable[[AsyncSession], PortableRows]], ...] = (
    ("workflows", OntologyRepository),
    ("service_blueprints", OntologyRepository),
    ("process_templates", OntologyRepository),
    ("prompt_templates", PromptRepository),
    ("plans", PlanRepository),
    ("plan_versions", PlanRepository),
    ("tasks", TaskRepository),
    ("execution_runs", OntologyRepository),
    ("sprints", SchedulerRepository),
    ("scheduler_runs", SchedulerRepository),
    ("calendar_entries", CalendarEntryRepository),
    ("events", EventRepository),
    ("facts", FactRepository),
    ("reflections", ObserverRepository),
    ("fact_decisions", ObserverRepository),
    ("documents", DocumentRepository),
    ("doc_chunks", DocumentRepository),
)
# What an export leaves out, and why (tests/backup check that no table is in neither).
_DERIVED_VECTORS = "derived: `almanac import` runs `reindex`, embedding with the new model"
_BY_TRIGGERS = "derived: kept by triggers on the exported tables as their rows go in"
_LOCAL = "this installation's own state, not something the user made"
EXCLUDED: dict[str, str] = {
    "event_embeddings": _DERIVED_VECTORS,
    "fact_embeddings": _DERIVED_VECTORS,
    "doc_chunk_embeddings": _DERIVED_VECTORS,
    "search_terms": _BY_TRIGGERS,
    "search_stats": _BY_TRIGGERS,
    "graph_nodes": _BY_TRIGGERS + ", and the entity nodes the import links again",
    "graph_edges": _BY_TRIGGERS,
    "memory_entities": "derived: the import links the memories again (`link_memories`)",
    "cache_generations": _LOCAL + " (cache counters)",
    "api_keys": "credentials: a plain export file must not carry them; make new keys",
    "auth_sessions": "credentials: dashboard sign-ins of this installation",
    "oauth_credentials": "credentials: calendar tokens; connect the calendar again",
    "llm_calls": _LOCAL + " (a usage log, and the daily cap's count)",
    "llm_operation_settings": _LOCAL + " (models chosen for its provider)",
    "job_schedules": _LOCAL + " (its job clock)",
    "job_reasons": _LOCAL + " (why its queued jobs wait)",
}
_OWNER = dict(TABLES)
# Each table's schema, to check a file's rows against before any is written.
_TABLE: dict[str, Table] = {
    name: next(m.__table__ for m in owner.portable if m.__tablename__ == name)  # type: ignore[attr-defined]
    for name, owner in TABLES
}
_DEFERRED = {"events": "promoted_to_fact_id"}


class ExportFileError(ValidationFailed):
    """The file is not an Almanac export this version can read; nothing was imported."""


@dataclass
class ImportReport:
    inserted: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)


async def export_all(state: AppState, out: IO[str], schema: str | None) -> dict[str, int]:
    """Write the header and every owned row; one read transaction for a consistent copy."""
    async with state.sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        counts = {name: await owner(session).count_rows(name) for name, owner in TABLES}
        header = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "schema": schema,
            "tables": counts,
        }
        out.write(json.dumps(header) + "\n")
        for name, owner in TABLES:
            repo, after = owner(session), 0
            while rows := await repo.export_rows(name, after, _PAGE):
                for row in rows:
                    out.write(json.dumps({"table": name, "row": row}, ensure_ascii=False) + "\n")
                after = rows[-1]["id"]
        await session.rollback()
    return counts


def read_export(path: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Parse and check the whole file before anything is written."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TABLES}
    # Bytes, decoded line by line inside the checks: a file that is not UTF-8 (or nested
    # past the parser's depth) is the line's error, not a traceback.
    with path.open("rb") as fh:
        lines: Iterator[tuple[int, bytes]] = enumerate(fh, start=1)
        try:
            # A byte order mark (an editor saved the file) is no part of the header.
            header = json.loads(next(lines)[1].decode("utf-8-sig"))
        except (StopIteration, ValueError, RecursionError) as exc:
            raise ExportFileError(f"{path}: line 1: not an Almanac export header") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ExportFileError(f"{path}: line 1: format must be {FORMAT!r}")
        if header.get("version") != VERSION:
            raise ExportFileError(f"{path}: version {header.get('version')!r} (this reads 1)")
        for number, line in lines:
            if not line.strip():
                continue
            try:
                item = json.loads(line.decode("utf-8"))
                table, row = item["table"], item["row"]
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                why = f" ({exc})" if isinstance(exc, json.JSONDecodeError) else ""
                raise ExportFileError(f"{path}: line {number}: not a table row{why}") from exc
            if table not in rows or not isinstance(row, dict) or not isinstance(row.get("id"), int):
                raise ExportFileError(f"{path}: line {number}: unknown table or row without id")
            if (problem := row_problem(_TABLE[table], row)) is not None:
                raise ExportFileError(f"{path}: line {number}: {table}.{problem}")
            rows[table].append(row)
    _whole(path, header, rows)
    return header, rows


def _whole(path: Path, header: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
    """Refuse a file holding fewer rows than its header counts: cut at a line's end (a copy
    stopped short, a full disk), it imported the first part and said nothing of the rest."""
    counted = header.get("tables")
    if not isinstance(counted, dict):  # a file written without counts: nothing to hold to
        return
    short = [
        f"{table} {len(rows.get(table, []))} of {n}"
        for table, n in counted.items()
        if isinstance(n, int) and len(rows.get(table, [])) != n
    ]
    if short:
        raise ExportFileError(
            f"{path}: the file is not whole: its header counts rows it does not hold "
            f"({'; '.join(short[:8])}); nothing was imported"
        )


async def import_all(uow: UnitOfWork, rows: dict[str, list[dict[str, Any]]]) -> ImportReport:
    """Insert every row in table order (ids kept, present rows skipped). Does not commit."""
    report = ImportReport()
    documents = {r["id"] for r in rows.get("documents", [])}
    for chunk in rows.get("doc_chunks", []):
        if chunk.get("document_id") not in documents:
            raise ExportFileError(
                f"doc_chunks: chunk {chunk['id']} belongs to document "
                f"{chunk.get('document_id')!r}, which is not in the file"
            )
    for name, owner in TABLES:  # rows Almanac wrote itself give way to the file's
        await owner(uow.session).release_seeds(name, rows.get(name, []))
    await _refuse_other_data(uow, rows)
    deferred: dict[str, list[tuple[int, Any]]] = {}
    for name, owner in TABLES:
        repo = owner(uow.session)
        batch = rows.get(name, [])
        if name == "doc_chunks":
            batch = await _chunks_of_same_documents(uow, rows.get("documents", []), batch)
        column = _DEFERRED.get(name)
        if column:
            deferred[name] = [(r["id"], r.get(column)) for r in batch if r.get(column)]
            batch = [{**r, column: None} for r in batch]
        inserted = 0
        for start in range(0, len(batch), _PAGE):
            try:
                inserted += await repo.import_rows(name, batch[start : start + _PAGE])
            except ValueError as exc:
                raise ExportFileError(str(exc), field="file") from exc
        report.inserted[name] = inserted
        report.present[name] = len(rows.get(name, [])) - inserted
    for name, pairs in deferred.items():
        try:
            await _OWNER[name](uow.session).fill_nulls(name, _DEFERRED[name], pairs)
        except ValueError as exc:
            raise ExportFileError(str(exc), field="file") from exc
    # Entity links are derived, like search terms: made again from the memories, in the
    # order and the batches they were written in (idempotent for rows already present).
    events = sorted(rows.get("events", []), key=lambda r: r["id"])
    links = EntityLinkRepository(uow.session)
    for start in range(0, len(events), _PAGE):
        page = events[start : start + _PAGE]
        await link_memories(
            links,
            [(r["id"], str(r.get("content") or "")) for r in page],
            [r.get("client_id") for r in page],
        )
    return report


async def _refuse_other_data(uow: UnitOfWork, rows: dict[str, list[dict[str, Any]]]) -> None:
    """A file error, before any write, when rows of this folder hold the file's ids: skipped
    as present, the file's plans and tasks were lost while their children went in and
    hung off this folder's rows. (Ids are kept so that every answer stays as it was.)"""
    clashes: list[str] = []
    for name, owner in TABLES:
        try:
            ids = await owner(uow.session).held_by_others(name, rows.get(name, []))
        except ValueError as exc:
            raise ExportFileError(str(exc)) from exc
        if ids:
            shown = ", ".join(str(i) for i in ids[:5]) + (" …" if len(ids) > 5 else "")
            clashes.append(f"{name} {shown} ({len(ids)})" if len(ids) > 5 else f"{name} {shown}")
    if clashes:
        raise ExportFileError(
            "this data folder already holds other data at the file's ids ("
            + "; ".join(clashes)
            + "): nothing was imported; import into a fresh data folder (ALMANAC_DATA_DIR), "
            "or back up this one first (almanac backup)",
            field="file",
        )


async def _chunks_of_same_documents(
    uow: UnitOfWork, documents: list[dict[str, Any]], chunks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The chunks whose document is here as the file has it. A document skipped because
    another one holds its id, or its source is here under another id, or it changed since
    the export, is present in its own form: its old chunks would otherwise join another
    file's passages (ids kept) or fail on the missing parent."""
    same = await DocumentRepository(uow.session).same_documents(documents)
    return [c for c in chunks if c["document_id"] in same]
