"""What a schedule preview depended on, and what changed since (pure).

A preview stores a fingerprint of its inputs; applying it later compares it with the
current one and names each difference, or the blocks that have begun since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from almanac.calendars.base import CalendarEvent
from almanac.models import Task as TaskRow
from almanac.scheduler.calendar_model import (
    CalendarInputs,
    core_id,
    logged_hours,
    removed_hours,
)
from almanac.scheduler.core import Block


def fingerprint(
    events: Sequence[CalendarEvent], inputs: CalendarInputs, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    """What a preview depended on: the user's events, each plan's schedule and open tasks."""
    return {
        "events": sorted(
            f"{e.uid}|{e.start.astimezone(UTC).isoformat()}|{e.end.astimezone(UTC).isoformat()}"
            f"|{int(e.busy)}"
            for e in events
            if e.almanac_id is None
        ),
        "runs": {str(p): r for p, r in sorted(inputs.run_ids.items())},
        "tasks": {cid: task_state(row) for cid, row in sorted(inputs.rows.items())},
        # Open tasks left out because their whole estimate is recorded: not closed.
        "recorded": sorted(inputs.finished),
        "window": [window[0].isoformat(), window[1].isoformat()],
    }


def task_state(row: TaskRow) -> str:
    """What a solve reads of a task, as a short digest. Not when it was last written:
    writing a schedule sets the start of every task it places, and a preview made before
    called each of them edited."""
    read = [
        row.title,
        row.estimate_hours,
        row.priority,
        row.billable,
        row.status,
        [str(d) for d in row.depends_on or ()],
        row.earliest_start.astimezone(UTC).isoformat() if row.earliest_start else None,
        row.deadline.astimezone(UTC).isoformat() if row.deadline else None,
        logged_hours(row),
        removed_hours(row),
    ]
    return hashlib.sha256(json.dumps(read, default=str).encode()).hexdigest()[:16]


def changes_since(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human lines for what differs between two fingerprints."""
    out: list[str] = []
    before, after = set(old.get("events", [])), set(new.get("events", []))
    for e in sorted(after - before):
        out.append(f"calendar event added or changed: {e.split('|')[0]}")
    for e in sorted(before - after):
        out.append(f"calendar event removed or changed: {e.split('|')[0]}")
    runs_a, runs_b = old.get("runs", {}), new.get("runs", {})
    for plan in sorted(set(runs_a) | set(runs_b)):
        if runs_a.get(plan) != runs_b.get(plan):
            out.append(f"plan {plan} was rescheduled since (run {runs_b.get(plan)})")
    tasks_a, tasks_b = old.get("tasks", {}), new.get("tasks", {})
    recorded_a, recorded_b = set(old.get("recorded", [])), set(new.get("recorded", []))
    for cid in sorted(set(tasks_a) | set(tasks_b)):
        if tasks_a.get(cid) == tasks_b.get(cid):
            continue
        if cid not in tasks_b:
            what = "fully recorded (no hours left to plan)" if cid in recorded_b else "closed"
        elif cid not in tasks_a:
            what = "given hours to plan again" if cid in recorded_a else "new"
        else:
            what = "edited"
        out.append(f"task {cid} was {what}")
    if old.get("window") != new.get("window"):
        out.append("the window differs")
    return out


def started_since(
    written: Mapping[int, Sequence[Block]], previous: Sequence[Block], now: datetime
) -> list[str]:
    """Human lines for previewed blocks that began before `now` (a preview applied late).

    A block that has begun can no longer be placed as planned; blocks the preview kept
    fixed or left exactly as already written are not new placements and pass."""
    kept = {(b.task_id, b.start, b.end) for b in previous}
    out: list[str] = []
    for plan_id, blocks in sorted(written.items()):
        for b in sorted(blocks, key=lambda b: (b.start, b.task_id)):
            if b.start >= now or b.fixed or (core_id(plan_id, b.task_id), b.start, b.end) in kept:
                continue
            what = "has passed" if b.end <= now else "has started"
            out.append(
                f"plan {plan_id}, task {b.task_id}: the block at "
                f"{b.start.astimezone(UTC).isoformat()} {what}"
            )
    return out
