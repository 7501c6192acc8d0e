"""Replan stability, paired: the same first schedules replanned several times.

Usage: .venv/bin/python bench/sched_replay.py [--seeds 1,303,7] [--repeats 3]
       [--time-limit S] [--idle S] [--moved-block W]

`scheduler_bench.py --multi-only` solves each instance afresh, so two runs differ in their
first schedules as well as in the replan, and a seed's two-week median moves by 1-4 points
between runs of the same code. This script solves each two-week instance's first schedule
once, then replays the benchmark's replan (`sched_multi.replan_share`: the same three
one-hour meetings, the same count of moved blocks) `--repeats` times, optionally with
another time limit, idle stop or stability weight for the replan only. It prints, per
repeat, each seed's two-week median share moved, the pooled median and mean, and the
weighted hours and deadlines met of the replan answers (by the independent `sched_check`),
so a change's effect can be told from the search's own run-to-run spread, and its cost seen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sched_check as check  # noqa: E402
import sched_instances as inst  # noqa: E402
import sched_multi  # noqa: E402

from almanac.scheduler.core import Problem, Schedule, solve  # noqa: E402


def _replanner(
    args: argparse.Namespace, answers: list[tuple[Problem, Schedule]]
) -> Callable[[Problem], Schedule]:
    """`solve` for the replan, with the overrides asked for; keeps each answer."""

    def replan(problem: Problem) -> Schedule:
        if args.time_limit is not None:
            problem = replace(problem, time_limit_seconds=args.time_limit)
        if args.idle is not None:
            problem = replace(problem, idle_seconds=args.idle)
        if args.moved_block is not None:
            problem = replace(
                problem, weights=replace(problem.weights, moved_block=args.moved_block)
            )
        answer = solve(problem)
        answers.append((problem, answer))
        return answer

    return replan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,303", help="first seeds, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, help="replan time limit (default 3 s)")
    parser.add_argument("--idle", type=float, help="replan idle stop (default 0.3 s)")
    parser.add_argument("--moved-block", type=int, help="replan stability weight per block")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    firsts = []
    for seed in seeds:
        for spec in inst.specs(False, seed):
            if spec.weeks == 2:
                problem = inst.make(spec)
                firsts.append((seed, spec, problem, solve(problem)))
    answers: list[tuple[Problem, Schedule]] = []
    sched_multi.solve = _replanner(args, answers)  # replan_share's solve
    for repeat in range(1, args.repeats + 1):
        shares: dict[int, list[float]] = {seed: [] for seed in seeds}
        answers.clear()
        for seed, spec, problem, first in firsts:
            record = sched_multi.replan_share(problem, first, spec.seed)
            shares[seed].append(record["moved_share"])
            print(
                f"  {spec.name}: {record['moved']}/{record['blocks']} moved, {record['hit']} hit, "
                f"{record['scope']} ({record['source']}) {record['kinds']}",
                file=sys.stderr,
            )
        pooled = [s for v in shares.values() for s in v]
        hours = sum(check.weighted_hours(p, a) for p, a in answers)
        met = sum(check.deadlines_met(p, a)[0] for p, a in answers)
        per_seed = ", ".join(f"{seed} {statistics.median(v):.2%}" for seed, v in shares.items())
        print(
            f"repeat {repeat}: two-week median per seed {per_seed}; pooled median "
            f"{statistics.median(pooled):.2%}, mean {statistics.mean(pooled):.2%}; replan "
            f"answers {hours:.2f} weighted h, {met} deadlines met"
        )


if __name__ == "__main__":
    main()
