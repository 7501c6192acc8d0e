"""Which previous blocks a solve moved, and why (pure: core blocks in, words out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from almanac.scheduler.core import Block, Problem, Schedule


@dataclass(frozen=True)
class Move:
    task_key: str
    old: Block
    new: Block | None
    siblings: tuple[Block, ...] = ()  # the task's previous blocks
    # The task's other new blocks no move took: a block split around a new meeting goes to
    # `new` and these, so the move says where all of its hours went.
    also: tuple[Block, ...] = ()


def moves(previous: Sequence[Block], current: Sequence[Block]) -> list[Move]:
    """Previous blocks not found unchanged now, paired with the task's new blocks in order."""

    def key(b: Block) -> tuple[str, datetime, datetime]:
        return b.task_id, b.start.astimezone(UTC), b.end.astimezone(UTC)

    old_keys = {key(b) for b in previous}
    new_keys = {key(b) for b in current}
    gone = sorted((b for b in previous if key(b) not in new_keys), key=lambda b: b.start)
    fresh = sorted((b for b in current if key(b) not in old_keys), key=lambda b: b.start)
    out = []
    for old in gone:
        # The same calendar event first (a block keeps its chunk number while it stays).
        mine = [b for b in fresh if b.task_id == old.task_id]
        match = next((b for b in mine if b.chunk == old.chunk), mine[0] if mine else None)
        if match is not None:
            fresh.remove(match)
        siblings = tuple(b for b in previous if b.task_id == old.task_id)
        out.append(Move(old.task_id, old, match, siblings))
    # What is left of a moved task's new blocks goes with its move nearest in time, up to
    # the moved block's hours: a block the task gained (more hours, or hours that fit now)
    # is no part of one ("Mon 9-11 -> Mon 13-15, Wed 9-11" read as 2 h moved into 4 h).
    for b in fresh:
        theirs = [i for i, m in enumerate(out) if m.task_key == b.task_id and _room(m) >= _hours(b)]
        if theirs:
            at = min(theirs, key=lambda i: abs((out[i].old.start - b.start).total_seconds()))
            out[at] = replace(out[at], also=(*out[at].also, b))
    return out


def _hours(b: Block) -> float:
    return (b.end - b.start).total_seconds() / 3600


def _room(m: Move) -> float:
    """The hours of a move's old block its new places do not hold yet (a little more, so
    seconds lost to rounding do not count)."""
    placed = sum(_hours(b) for b in (m.new, *m.also) if b is not None)
    return _hours(m.old) - placed + 1 / 60


def why_moved(move: Move, problem: Problem, schedule: Schedule) -> str:
    """A short explanation of why a previous block is not where it was."""
    old, new = move.old, move.new
    tasks = {t.id: t for t in problem.tasks}
    task = tasks.get(move.task_key)
    if task is None:
        return "the task is no longer open"
    if _overlaps_busy(old, problem):
        return "its old time now overlaps a busy event"
    if new is None:
        cause = next((u.cause for u in schedule.unplaced if u.task_id == move.task_key), None)
        return f"no longer placed: {cause}" if cause else "merged into the task's other blocks"
    if new.fixed:
        return new.reason or "pinned"
    # A dependency now ending after this block's old start: the block has to follow it.
    for dep in task.depends_on:
        ends = [b.end for b in schedule.blocks if b.task_id == dep]
        if ends and max(ends) > old.start:
            title = tasks[dep].title if dep in tasks else dep
            return f"must follow {title!r}, which now ends later; re-placed: {new.reason}"
    siblings = [b for b in move.siblings if b is not old]
    if any(_overlaps_busy(b, problem) for b in siblings):
        return f"another block of the task now overlaps a busy event; re-placed: {new.reason}"
    taker = _taken_by(old, schedule)
    if taker is not None:
        title = tasks[taker].title if taker in tasks else taker
        return f"its old time now goes to {title!r}; re-placed: {new.reason}"
    if schedule.scope == "widened":
        names = ", ".join(repr(tasks[t].title) for t in schedule.restored if t in tasks)
        room = f" for {names}, whose place or deadline the change had cost" if names else ""
        return (
            f"re-placed to make room{room}: moving only what the change hit would have "
            f"placed fewer hours or met fewer deadlines: {new.reason}"
        )
    return f"re-placed: {new.reason}"


def _taken_by(old: Block, schedule: Schedule) -> str | None:
    """The task whose block now sits in `old`'s time (it was not there before: the
    previous schedule had no overlaps), if any."""
    for b in schedule.blocks:
        if b.task_id != old.task_id and not b.fixed and b.start < old.end and old.start < b.end:
            return b.task_id
    return None


def _overlaps_busy(block: Block, problem: Problem) -> bool:
    return any(i.start < block.end and block.start < i.end for i in problem.busy)
