"""The multi-plan part of the scheduler benchmark: whole calendars against two baselines.

Per instance (see `sched_instances`): Almanac's solver, a priority-first greedy and a global
earliest-deadline-first on the same problem; weighted hours, deadlines met, violations found
by the independent check (`sched_check`), solve time, status and why the search stopped; then
three new one-hour meetings on placed blocks and a replan: the share of blocks that moved,
by kind, by load and by how the replan was answered (repair, widened, or the simple repair
in the search's place), and the left-out tasks that had more than one block.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sched_check as check
import sched_instances as inst

from almanac.scheduler.core import (
    Block,
    Interval,
    Problem,
    Schedule,
    SolveStatus,
    greedy_schedule,
    solve,
)
from almanac.scheduler.core.explain import assemble
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.repair import follower_tasks, kept_tasks
from almanac.scheduler.core.repair_greedy import simple_repair, waiting_tasks


def _row(problem: Problem, schedule: Schedule, seconds: float) -> dict[str, Any]:
    met, due = check.deadlines_met(problem, schedule)
    return {
        "weighted_hours": round(check.weighted_hours(problem, schedule), 3),
        "deadlines_met": met,
        "deadlines": due,
        "violations": len(check.limit_violations(problem, schedule)),
        "unplaced": len(schedule.unplaced),
        "seconds": round(seconds, 3),
        "status": str(schedule.status),
        "source": schedule.source,
        "stopped": schedule.stopped,
        "gap": schedule.relative_gap,
    }


def replan_share(problem: Problem, first: Schedule, seed: int) -> dict[str, Any]:
    """Three one-hour meetings on placed blocks from the second day on; what moves.

    A previous block counts as *kept* only when the replan has a block of the same task
    with the same chunk number (its calendar event, `plan<id>-<task>-<chunk>`) and the same
    start and end: the event is untouched. Anything else is a move the user sees: moved,
    shortened, split (a half-hit two-hour block counts whole) or dropped. Each move is
    classified, first match: `hit` (overlaps a new meeting), `follower` (a dependency now
    ends after its old start), `sibling` (another block of its task was hit), `displaced`
    (another task's new block took its old time), `dropped` (its task is no longer placed),
    `other`.
    """
    changed, meetings = with_meetings(problem, first, seed)
    started = time.perf_counter()
    second = solve(changed)
    seconds = time.perf_counter() - started
    events = {(b.task_id, b.chunk, b.start, b.end) for b in second.blocks}
    times = {(b.task_id, b.start, b.end) for b in second.blocks}
    movable = [b for b in first.blocks if not b.fixed]
    moved = [b for b in movable if (b.task_id, b.chunk, b.start, b.end) not in events]
    hit = [b for b in movable if any(_overlap(b, m) for m in meetings)]
    kinds = Counter(_kind(b, changed, first, second, meetings) for b in moved)
    # Whatever its kind, a block whose task is no longer placed at all: a task is placed
    # whole or not at all, so one left out moves every block it had.
    left_out = {b.task_id for b in moved if not second.blocks_for(b.task_id)}
    scratch = [f for f in second.floors if not f.baseline.startswith("repair")]
    floor = simple_repair_floor(changed)
    return {
        "blocks": len(movable),
        "hit": len(hit),
        "moved": len(moved),
        "moved_share": round(len(moved) / max(1, len(movable)), 4),
        # The same count by (task, start, end) alone: equal while kept blocks keep their ids.
        "moved_by_time": sum((b.task_id, b.start, b.end) not in times for b in movable),
        "kinds": dict(kinds),
        "tasks_left_out": len(left_out),
        "left_out_blocks": sum(b.task_id in left_out for b in moved),
        # Of them, tasks that had more than one block: all a partial placement could keep.
        "tasks_left_out_split": sum(sum(b.task_id == t for b in movable) > 1 for t in left_out),
        "violations": len(check.limit_violations(changed, second)),
        "seconds": round(seconds, 3),
        "scope": second.scope,
        "source": second.source,
        "below_repair_floor": _below(changed, second, floor),
        "floors_reached": all(f.reached for f in scratch),
    }


def with_meetings(
    problem: Problem, first: Schedule, seed: int
) -> tuple[Problem, tuple[Interval, ...]]:
    """The replan's problem: three one-hour meetings on placed blocks from the second day on,
    and `first` as the previous schedule; with the meetings."""
    rng = random.Random(seed)
    later = [b for b in first.blocks if not b.fixed and b.start >= problem.now + timedelta(days=1)]
    hit_blocks = rng.sample(later, min(3, len(later)))
    meetings = tuple(Interval(b.start, b.start + timedelta(hours=1)) for b in hit_blocks)
    return replace(problem, busy=problem.busy + meetings, previous=first.blocks), meetings


def simple_repair_floor(problem: Problem) -> tuple[float, int]:
    """(weighted hours, deadlines met) of the better simple repair, measured by the
    independent check: greedy that keeps every previous block the change left valid and
    places only the displaced work (most urgent or highest priority first), then work the
    previous schedule left out into the free time left (`core/repair_greedy.py`)."""
    grid = build_grid(problem)
    kept = kept_tasks(grid)
    followers = follower_tasks(grid, kept)
    out = []
    for placement in simple_repair(grid, kept, followers, waiting_tasks(grid)).values():
        schedule = assemble(grid, placement, {}, SolveStatus.GREEDY, wall_time=0.0)
        out.append(
            (check.weighted_hours(problem, schedule), check.deadlines_met(problem, schedule)[0])
        )
    return max(out)


def _below(problem: Problem, schedule: Schedule, floor: tuple[float, int]) -> bool:
    hours, met = check.weighted_hours(problem, schedule), check.deadlines_met(problem, schedule)[0]
    return hours < floor[0] - 1e-6 or met < floor[1]


def _overlap(a: Block | Interval, b: Block | Interval) -> bool:
    return a.start < b.end and b.start < a.end


def _kind(
    block: Block,
    problem: Problem,
    first: Schedule,
    second: Schedule,
    meetings: tuple[Interval, ...],
) -> str:
    """Why a previous block moved, judged from the outside (see `replan_share`)."""
    if any(_overlap(block, m) for m in meetings):
        return "hit"
    deps = next(t.depends_on for t in problem.tasks if t.id == block.task_id)
    if any(b.task_id in deps and b.end > block.start for b in second.blocks):
        return "follower"
    hit_tasks = {b.task_id for b in first.blocks if any(_overlap(b, m) for m in meetings)}
    if block.task_id in hit_tasks:
        return "sibling"
    before = {(b.task_id, b.start, b.end) for b in first.blocks}
    if any(
        b.task_id != block.task_id
        and _overlap(b, block)
        and (b.task_id, b.start, b.end) not in before
        for b in second.blocks
    ):
        return "displaced"
    if not second.blocks_for(block.task_id):
        return "dropped"
    return "other"


def run_multi(quick: bool, first_seed: int = 1) -> list[dict[str, Any]]:
    records = []
    for spec in inst.specs(quick, first_seed):
        problem = inst.make(spec)
        record: dict[str, Any] = {
            "instance": spec.name,
            "zone": spec.tz,
            "weeks": spec.weeks,
            "tasks": len(problem.tasks),
            "plans": len({t.id.split("/")[0] for t in problem.tasks}),
            "load": spec.load,
        }
        started = time.perf_counter()
        almanac = solve(problem)
        record["almanac"] = _row(problem, almanac, time.perf_counter() - started)
        for name, order in (("greedy", "priority"), ("edf", "edf")):
            started = time.perf_counter()
            base = greedy_schedule(problem, order)
            record[name] = _row(problem, base, time.perf_counter() - started)
        record["replan"] = replan_share(problem, almanac, spec.seed)
        records.append(record)
        a = record["almanac"]
        print(
            f"{spec.name}: {a['seconds']:.2f}s {a['status']} ({a['stopped']}), "
            f"wh {a['weighted_hours']} vs greedy {record['greedy']['weighted_hours']}, "
            f"met {a['deadlines_met']} vs edf {record['edf']['deadlines_met']}, "
            f"replan moved {record['replan']['moved_share']:.1%}",
            file=sys.stderr,
        )
    return records


def table_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for r in records:
        a, g, e, rp = r["almanac"], r["greedy"], r["edf"], r["replan"]
        rows.append(
            [
                r["instance"],
                f"{r['plans']}/{r['tasks']}",
                " / ".join(f"{x['weighted_hours']:.1f}" for x in (a, g, e)),
                f"{a['deadlines_met']} / {g['deadlines_met']} / {e['deadlines_met']} of "
                f"{a['deadlines']}",
                f"{a['violations']} / {g['violations']} / {e['violations']} / {rp['violations']}",
                f"{rp['moved_share']:.1%} ({rp['hit']} hit, {rp['scope']}; "
                + ", ".join(f"{k} {n}" for k, n in sorted(rp["kinds"].items()))
                + ")",
                f"{a['seconds']:.2f}",
                f"{a['status']}, {a['stopped']}",
            ]
        )
    return rows


HEADERS = [
    "instance",
    "plans/tasks",
    "weighted h: almanac / greedy / edf",
    "deadlines met: almanac / greedy / edf",
    "violations: almanac / greedy / edf / replan",
    "replan moved",
    "solve s",
    "status",
]


def report(quick: bool, api: bool = True, first_seed: int = 1) -> dict[str, Any]:
    """Run the multi-plan instances (and the API part), print their tables, return the data."""
    import asyncio

    from common import median, print_table

    records = run_multi(quick, first_seed)
    print_table(
        "Whole calendars: Almanac vs priority greedy vs global EDF", HEADERS, table_rows(records)
    )
    two_weeks = [r for r in records if r["weeks"] == 2]
    big = [r for r in records if r["tasks"] >= 300]
    summary: dict[str, Any] = {
        "median_seconds_2_weeks_50_tasks": median([r["almanac"]["seconds"] for r in two_weeks]),
        "max_seconds_300_tasks": max((r["almanac"]["seconds"] for r in big), default=None),
        "cp_sat_solution_at_300_tasks": all(r["almanac"]["source"] == "cp-sat" for r in big),
        "violations": sum(r[w]["violations"] for r in records for w in ("almanac", "greedy", "edf"))
        + sum(r["replan"]["violations"] for r in records),
        "almanac_violations": sum(r["almanac"]["violations"] for r in records)
        + sum(r["replan"]["violations"] for r in records),
        "instances_below_greedy_hours": sum(
            r["almanac"]["weighted_hours"] < r["greedy"]["weighted_hours"] - 1e-6 for r in records
        ),
        "instances_below_edf_deadlines": [
            r["instance"]
            for r in records
            if r["almanac"]["deadlines_met"] < r["edf"]["deadlines_met"]
        ],
        "median_replan_moved": median([r["replan"]["moved_share"] for r in records]),
        "median_replan_moved_two_weeks": median([r["replan"]["moved_share"] for r in two_weeks]),
        "p90_replan_moved": _quantile([r["replan"]["moved_share"] for r in records], 0.9),
        "replans_above_20pct": sum(r["replan"]["moved_share"] > 0.2 for r in records),
        # Never worse than simple, on replans: the simple repair (keeps every valid block,
        # places the displaced work greedily) is the floor; target 0.
        "replans_below_simple_repair": [
            r["instance"] for r in records if r["replan"]["below_repair_floor"]
        ],
        # For context: below a greedy or EDF that re-plans the whole calendar from scratch.
        "replan_floors_missed": [
            r["instance"] for r in records if not r["replan"]["floors_reached"]
        ],
        "replan_moves_by_kind": dict(
            sum((Counter(r["replan"]["kinds"]) for r in records), Counter())
        ),
        # Where the moves come from: by load (two-week instances) and by how the replan was
        # answered (a repair, a widened repair, or the simple repair replacing the search).
        "median_replan_moved_two_weeks_by_load": {
            str(load): median([r["replan"]["moved_share"] for r in two_weeks if r["load"] == load])
            for load in sorted({r["load"] for r in two_weeks})
        },
        "replan_moves_by_answer": _by_answer(records),
        # Of those moves, the blocks of tasks a replan left out altogether, how many tasks,
        # and how many of those tasks had more than one block.
        "replan_left_out": [
            sum(r["replan"]["left_out_blocks"] for r in records),
            sum(r["replan"]["tasks_left_out"] for r in records),
            sum(r["replan"]["tasks_left_out_split"] for r in records),
        ],
        "median_replan_seconds": median([r["replan"]["seconds"] for r in records]),
    }
    print_table(
        "Replans after three one-hour meetings on blocks (a block moved = its event changed)",
        ["measure", "value"],
        [
            ["median share moved", f"{summary['median_replan_moved']:.2%}"],
            ["median, two-week instances", f"{summary['median_replan_moved_two_weeks']:.2%}"],
            ["90th percentile", f"{summary['p90_replan_moved']:.2%}"],
            ["replans above 20%", summary["replans_above_20pct"]],
            ["moves by kind", summary["replan_moves_by_kind"]],
            ["of them: blocks / tasks (with 2+ blocks) left out", summary["replan_left_out"]],
            ["two-week median by load", summary["median_replan_moved_two_weeks_by_load"]],
            ["moves by answer (replans, kinds)", summary["replan_moves_by_answer"]],
            ["below the simple repair (target 0)", len(summary["replans_below_simple_repair"])],
            ["below a from-scratch greedy / EDF", len(summary["replan_floors_missed"])],
            ["median replan seconds", summary["median_replan_seconds"]],
        ],
    )
    out: dict[str, Any] = {"instances": records, "summary": summary}
    if api:
        api_out = asyncio.run(_api(quick))
        out["api"] = api_out
        print_table(
            "Through the API (embedded Postgres, built-in calendar)",
            [
                "instance",
                "plans",
                "blocks",
                "preview vs write diffs",
                "violations",
                "replan moved (hit; moved not hit)",
                "median solve s",
                "statuses",
            ],
            [
                [
                    r["instance"],
                    r["plans"],
                    r["blocks"],
                    r["preview_vs_write_differences"],
                    r["violations"],
                    f"{r['replan_moved_share']:.1%} ({r['replan_hit_share']:.1%}; "
                    f"{r['replan_moved_beyond_hit']})",
                    r["median_solve_seconds"],
                    ", ".join(r["statuses"]),
                ]
                for r in api_out["instances"]
            ],
        )
        print_table(
            "Bad input through the API",
            ["case", "status", "field / answer", "written"],
            [[b["case"], b["status"], b["field"], b["written"]] for b in api_out["bad_input"]],
        )
        summary["preview_vs_write_differences"] = sum(
            r["preview_vs_write_differences"] for r in api_out["instances"]
        )
        summary["api_violations"] = sum(r["violations"] for r in api_out["instances"])
    return out


def _by_answer(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Replans and their moves by kind, per answer: "repair", "widened", or "simple repair"
    (the greedy repair replaced the search's answer, see `core/repair_greedy.Finish`)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        rp = r["replan"]
        name = "simple repair" if rp["source"].startswith("repair-") else rp["scope"]
        entry = out.setdefault(name, {"replans": 0, "kinds": Counter()})
        entry["replans"] += 1
        entry["kinds"].update(rp["kinds"])
    return {k: {"replans": v["replans"], "kinds": dict(v["kinds"])} for k, v in out.items()}


def _quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


async def _api(quick: bool) -> dict[str, Any]:
    from sched_api import run_api

    return await run_api(quick)
