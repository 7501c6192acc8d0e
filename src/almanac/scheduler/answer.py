"""The scheduler's answer: the solved calendar's blocks, moves and other plans' placed
blocks as response items (pure: plain data in, response models out)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from almanac.scheduler import calendar_model as cm
from almanac.scheduler import moves as mv
from almanac.scheduler import pin_order
from almanac.scheduler import problem as pb
from almanac.scheduler.core import Block
from almanac.scheduler.schemas import BlockOut, MoveOut, SpanOut

if TYPE_CHECKING:
    from almanac.scheduler.service import Solved

PlanBlocks = dict[int, list[Block]]  # plan id -> blocks with plain task keys


def keyset(blocks: list[Block]) -> set[tuple[str, datetime, datetime]]:
    """Each block as (task, start, end) in UTC, to compare two schedules of one plan."""
    return {(b.task_id, b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in blocks}


def stored(blocks: Sequence[Block], hide: Callable[[str], str]) -> list[dict[str, Any]]:
    """Blocks as a run stores them, their reasons naming other plans' tasks as `hide` does:
    a run is read back by whoever may read its plan, as the live answer was."""
    return [pb.block_to_json(replace(b, reason=hide(b.reason))) for b in blocks]


def stored_rows(rows: Sequence[dict[str, Any]], hide: Callable[[str], str]) -> list[dict[str, Any]]:
    """Stored block rows (`pb.block_to_json`) with their reasons hidden as `stored` does."""
    return [{**r, "reason": hide(str(r.get("reason", "")))} for r in rows]


def block_out(plan_id: int, block: Block, title: str, tz: ZoneInfo) -> BlockOut:
    """One block as the answer shows it, in the user's zone."""
    return BlockOut(
        almanac_id=pb.almanac_id(plan_id, block.task_id, block.chunk),
        plan_id=plan_id,
        task_key=block.task_id,
        title=title,
        chunk=block.chunk,
        start=block.start.astimezone(tz),
        end=block.end.astimezone(tz),
        reason=block.reason,
        fixed=block.fixed,
    )


def by_plan(solved: Solved) -> PlanBlocks:
    """The solved blocks by plan, keyed by plain task keys; kept-outside blocks say so (not
    the user's own pins: "pinned by you" stays), and a pinned block whose dependency is not
    before it says that too (`pin_order`)."""
    out: PlanBlocks = defaultdict(list)
    kept, mine = solved.inputs.kept_outside, solved.inputs.user_pins
    for b in solved.schedule.blocks:
        pid, key = cm.split_core_id(b.task_id)
        at = (b.task_id, b.start.astimezone(UTC))
        why = pin_order.with_notes(b.reason, at, solved.notes, at in kept and at not in mine)
        out[pid].append(replace(b, task_id=key, reason=why))
    return out


def moves_out(
    solved: Solved, shown: dict[str, str], tz: ZoneInfo, found: list[mv.Move]
) -> list[MoveOut]:
    """Each block the solve moved (or left out), with why."""
    out = []
    for move in found:
        pid, key = cm.split_core_id(move.task_key)
        old, new = move.old, move.new
        out.append(
            MoveOut(
                plan_id=pid,
                task_key=key,
                title=shown.get(move.task_key, key),
                from_start=old.start.astimezone(tz),
                from_end=old.end.astimezone(tz),
                to_start=new.start.astimezone(tz) if new else None,
                to_end=new.end.astimezone(tz) if new else None,
                also_to=[
                    SpanOut(start=b.start.astimezone(tz), end=b.end.astimezone(tz))
                    for b in sorted(move.also, key=lambda b: b.start)
                ],
                why=mv.why_moved(move, solved.problem, solved.schedule),
            )
        )
    return out


def placed_out(
    plan_id: int,
    written: PlanBlocks,
    inputs: cm.CalendarInputs,
    found: list[mv.Move],
    titles: dict[tuple[int, str], str],
    tz: ZoneInfo,
) -> list[BlockOut]:
    """Other plans' written blocks that are neither kept (in the window or outside it)
    nor a move's new place."""

    def key(task_id: str, b: Block) -> tuple[str, datetime, datetime]:
        return task_id, b.start.astimezone(UTC), b.end.astimezone(UTC)

    known = {key(b.task_id, b) for b in inputs.previous}
    known |= {key(m.new.task_id, m.new) for m in found if m.new is not None}
    known |= {key(b.task_id, b) for m in found for b in m.also}
    out = []
    for pid, bl in sorted(written.items()):
        for b in bl if pid != plan_id else ():
            cid = cm.core_id(pid, b.task_id)
            if key(cid, b) in known or (cid, b.start.astimezone(UTC)) in inputs.kept_outside:
                continue
            out.append(block_out(pid, b, titles.get((pid, b.task_id), b.task_id), tz))
    return out


def slot_rounding(solved: Solved, plan_id: int) -> str | None:
    """Said when whole slots make a plan's blocks longer than its estimates (a calibrated
    2.05 h task takes 2.25 h): sprint use, daily limits and overbooking count the blocks."""
    hours = {t.key: t.estimate_hours for t in solved.inputs.inputs if t.estimate_hours}
    mine = [
        t for t in solved.problem.tasks if cm.split_core_id(t.id)[0] == plan_id and t.id in hours
    ]
    estimated = round(sum(hours[t.id] or 0.0 for t in mine), 2)
    blocks = round(sum(t.duration_minutes for t in mine) / 60, 2)
    if blocks - estimated < 0.01:
        return None
    slot = solved.problem.slot_minutes
    return (
        f"blocks are whole {slot}-minute slots: this plan's {estimated:g} h still to do take "
        f"{blocks:g} h of the calendar (each task rounded up)"
    )
