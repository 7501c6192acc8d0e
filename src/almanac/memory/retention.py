"""Retention: old events that never became facts are archived, then deleted.

Each batch is one transaction: the rows are locked, written to a gzip JSONL file that is
fsynced and renamed into `DATA_DIR/retention/`, and only then deleted and committed. A
crash leaves either the rows (and maybe an archive of them: archiving is at-least-once,
the `id` field tells duplicates apart) or the archive, never neither.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from almanac.db.uow import UnitOfWork
from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.invalidation import Invalidator, event_namespaces
from almanac.memory.maintenance import event_record
from almanac.memory.repository import EventRepository
from almanac.state import AppState


@dataclass
class RetentionReport:
    """What a retention run found and did."""

    cutoff: datetime
    dry_run: bool
    eligible: int  # old, not promoted: archived and deleted unless dry-run
    kept_promoted: int  # old but promoted to a fact: kept
    deleted: int = 0
    pruned: int = 0  # entity nodes no memory links to any more
    ended_facts: int = 0  # nodes of facts whose end has passed, dropped from the graph
    files: list[Path] = field(default_factory=list)


def record(e: Any) -> dict[str, Any]:
    """One archived event, in `almanac memory export`'s format (re-importable)."""
    return event_record(e)


def _write_archive(path: Path, lines: list[dict[str, Any]]) -> None:
    """Write, fsync and atomically rename, so a listed file is always complete."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".part")
    # Archives hold memories: readable by their owner only (0600), from the first byte.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as gz:
            for line in lines:
                gz.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself must survive a power cut
    finally:
        os.close(directory)


def forget_in_archives(folder: Path, about: Callable[[dict[str, Any]], bool]) -> int:
    """Rewrite every archive without the lines `about` selects; returns lines removed."""
    removed = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.glob("events-*.jsonl.gz")):
        with gzip.open(path, "rb") as gz:
            lines = [json.loads(line) for line in gz if line.strip()]
        kept = [line for line in lines if not about(line)]
        if len(kept) == len(lines):
            continue
        removed += len(lines) - len(kept)
        if kept:
            _write_archive(path, kept)
        else:
            path.unlink()
    return removed


async def drop_ended_facts(state: AppState) -> int:
    """Drop the graph nodes of facts that have ended since they were written (and those
    only they hung off), in a transaction of its own; returns how many facts left."""
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        dropped = await EntityLinkRepository(session).drop_ended_facts()
        await uow.commit()
    return dropped


async def run_retention(
    state: AppState,
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch: int | None = None,
    now: datetime | None = None,
) -> RetentionReport:
    """Archive and delete events older than `days` that were not promoted to facts; drop
    the graph nodes of facts that have ended since (the clock fires no trigger)."""
    jobs = state.settings.jobs
    moment = now or datetime.now(UTC)
    cutoff = moment - timedelta(days=days or jobs.retention_days)
    size = batch or jobs.retention_batch
    async with state.sessionmaker() as session:
        eligible, kept = await EventRepository(session).count_old(cutoff)
    report = RetentionReport(cutoff, dry_run, eligible, kept)
    if dry_run:
        return report
    report.ended_facts = await drop_ended_facts(state)
    if not report.eligible:
        return report

    folder = state.settings.data_dir / "retention"
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    after, number = 0, 0
    invalidator = Invalidator(state.cache)
    while True:
        async with state.sessionmaker() as session:
            uow = UnitOfWork(session)
            events = EventRepository(session)
            rows = await events.lock_old(cutoff, after, size)
            if not rows:
                break
            number += 1
            path = folder / f"events-{stamp}-{number:04d}.jsonl.gz"
            await asyncio.to_thread(_write_archive, path, [record(e) for e in rows])
            ids = [e.id for e in rows]
            links = EntityLinkRepository(session)
            try:
                nodes = await links.nodes_of(ids)
                await events.delete_ids(ids)
                # Names only these memories held go with them, as after forgetting.
                report.pruned += await links.prune(nodes)
            except BaseException:
                # Nothing was deleted: the archive would only be a duplicate next run.
                path.unlink(missing_ok=True)
                raise
            namespaces = sorted(
                {n for e in rows for n in event_namespaces(e.session_id, e.client_id)}
            )
            invalidator.events_changed(uow, namespaces)
            # A failed commit keeps the file: the rows may be gone; losing them is worse.
            await uow.commit()
            report.deleted += len(ids)
            report.files.append(path)
            after = ids[-1]
        if len(rows) < size:
            break
    return report
