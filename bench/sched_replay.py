"""Replan stability, paired: the same first schedules replanned several times.

Usage: .venv/bin/python bench/sched_replay.py [--seeds 1,303,7] [--repeats 3]
       [--time-limit S] [--idle S] [--moved-block W] [--against REF]

`scheduler_bench.py --multi-only` solves each instance afresh, so two runs differ in their
first schedules as well as in the replan, and a seed's two-week median moves by 1-4 points
between runs of the same code. This script solves each two-week instance's first schedule
once, then replays the benchmark's replan (`sched_multi.replan_share`: the same three
one-hour meetings, the same count of moved blocks) `--repeats` times, optionally with
another time limit, idle stop or stability weight for the replan only. It prints, per
repeat, each seed's two-week median share moved, the pooled median and mean, and the
weighted hours and deadlines met of the replan answers (by the independent `sched_check`),
so a change's effect can be told from the search's own run-to-run spread, and its cost seen.
`--against REF` (a git revision, e.g. main) also answers each replan with the scheduler core
of REF, right after this tree's on the same first schedule, and prints both.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sched_check as check  # noqa: E402
import sched_instances as inst  # noqa: E402
import sched_multi  # noqa: E402

from almanac.scheduler.core import Problem, Schedule, solve  # noqa: E402


def _replanner(
    args: argparse.Namespace,
    answers: list[tuple[Problem, Schedule]],
    solver: Callable[[Problem], Schedule] = solve,
) -> Callable[[Problem], Schedule]:
    """`solver` for the replan, with the overrides asked for; keeps each answer."""

    def replan(problem: Problem) -> Schedule:
        if args.time_limit is not None:
            problem = replace(problem, time_limit_seconds=args.time_limit)
        if args.idle is not None:
            problem = replace(problem, idle_seconds=args.idle)
        if args.moved_block is not None:
            problem = replace(
                problem, weights=replace(problem.weights, moved_block=args.moved_block)
            )
        answer = solver(problem)
        answers.append((problem, answer))
        return answer

    return replan


_CORE = "almanac.scheduler.core."


def _core_of(ref: str, into: Path) -> Callable[[Problem], Schedule]:
    """`solve` of the scheduler core at git revision `ref`, loaded as its own package; its
    problems and answers pass through a pickle renamed between the two packages."""
    root = Path(__file__).resolve().parent.parent
    name = "core_" + "".join(c if c.isalnum() else "_" for c in ref)
    package = into / name
    package.mkdir()
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{ref}:src/almanac/scheduler/core"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for file in listing:
        text = subprocess.run(
            ["git", "show", f"{ref}:src/almanac/scheduler/core/{file}"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout
        (package / file).write_bytes(text)
    sys.path.insert(0, str(into))
    other = importlib.import_module(name)

    def renamed(obj: object, old: str, new: str) -> object:
        # Protocol 0 names each class by "module\nname": one rename moves it across.
        return pickle.loads(pickle.dumps(obj, protocol=0).replace(old.encode(), new.encode()))

    def solve_there(problem: Problem) -> Schedule:
        answer = other.solve(renamed(problem, _CORE, f"{name}."))
        return renamed(answer, f"{name}.", _CORE)  # type: ignore[return-value]

    return solve_there


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,303", help="first seeds, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, help="replan time limit (default 3 s)")
    parser.add_argument("--idle", type=float, help="replan idle stop (default 0.3 s)")
    parser.add_argument("--moved-block", type=int, help="replan stability weight per block")
    parser.add_argument("--against", help="git revision whose scheduler core also replans")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    firsts = []
    for seed in seeds:
        for spec in inst.specs(False, seed):
            if spec.weeks == 2:
                problem = inst.make(spec)
                firsts.append((seed, spec, problem, solve(problem)))
    codes = {"": solve}
    with tempfile.TemporaryDirectory() as into:
        if args.against:
            codes = {"this tree ": solve, f"{args.against} ": _core_of(args.against, Path(into))}
        for repeat in range(1, args.repeats + 1):
            for label, solver in codes.items():
                _replay(args, firsts, seeds, solver, f"{label}repeat {repeat}")


def _replay(
    args: argparse.Namespace,
    firsts: list[tuple[int, inst.Spec, Problem, Schedule]],
    seeds: list[int],
    solver: Callable[[Problem], Schedule],
    label: str,
) -> None:
    """Replan every first schedule once with `solver` and print the figures."""
    answers: list[tuple[Problem, Schedule]] = []
    sched_multi.solve = _replanner(args, answers, solver)  # replan_share's solve
    shares: dict[int, list[float]] = {seed: [] for seed in seeds}
    seconds = []
    for seed, spec, problem, first in firsts:
        record = sched_multi.replan_share(problem, first, spec.seed)
        shares[seed].append(record["moved_share"])
        seconds.append(record["seconds"])
        print(
            f"  {label} {spec.name}: {record['moved']}/{record['blocks']} moved, "
            f"{record['hit']} hit, {record['scope']} ({record['source']}) {record['kinds']}",
            file=sys.stderr,
        )
    pooled = [s for v in shares.values() for s in v]
    hours = sum(check.weighted_hours(p, a) for p, a in answers)
    met = sum(check.deadlines_met(p, a)[0] for p, a in answers)
    per_seed = ", ".join(f"{seed} {statistics.median(v):.2%}" for seed, v in shares.items())
    print(
        f"{label}: two-week median per seed {per_seed}; pooled median "
        f"{statistics.median(pooled):.2%}, mean {statistics.mean(pooled):.2%}; replan "
        f"answers {hours:.2f} weighted h, {met} deadlines met; replan seconds median "
        f"{statistics.median(seconds):.2f}, max {max(seconds):.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
