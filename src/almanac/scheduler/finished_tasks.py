"""The open tasks a solve leaves out with no hours left to plan (`CalendarInputs.finished`):
closed for the tasks that depend on them, and what the solve warns of the named plan's."""

from __future__ import annotations

from almanac.scheduler import problem as pb
from almanac.scheduler.calendar_model import (
    CalendarInputs,
    logged_hours,
    removed_hours,
    split_core_id,
)


def finished_closed(inputs: CalendarInputs) -> dict[str, pb.ClosedTask]:
    """The finished tasks as closed ones for dependencies: a task waiting on one is free to
    go, as after a done task. Another plan's is named by "<plan>/<key>", not its title."""
    out = {}
    for cid, row in inputs.finished.items():
        plan_id, key = split_core_id(cid)
        mine = plan_id == inputs.named
        out[cid] = pb.ClosedTask("done", row.title if mine else None, key if mine else cid[1:])
    return out


def task_warnings(inputs: CalendarInputs) -> list[str]:
    """What a solve says of the named plan's tasks: none open, or some with no hours left
    (they get no block). Only the named plan's: other plans' titles stay out of its answer."""
    mine = [r for cid, r in inputs.finished.items() if inputs.plan_of(cid) == inputs.named]
    if not mine and not any(inputs.plan_of(k) == inputs.named for k in inputs.rows):
        return ["the plan has no open tasks"]
    removed = [
        f"{r.title!r}: {removed_hours(r):g} h of its blocks were removed from the calendar by "
        "you and are not planned again; set its estimate again to have them placed"
        for cid, r in [*inputs.rows.items(), *inputs.finished.items()]
        if inputs.plan_of(cid) == inputs.named and removed_hours(r) > 0
    ]
    return removed + [
        (
            f"{r.title!r} has its whole estimate ({r.estimate_hours or 0:g} h) recorded and is "
            "not marked done"
            if logged_hours(r) > 0
            else f"{r.title!r} has an estimate of 0 h"
        )
        + ": no time was planned for it; mark it done or raise its estimate"
        for r in mine
        if r.estimate_hours is not None and logged_hours(r) >= r.estimate_hours
    ]
