"""What a plan request pays to fit a workflow's history: a fresh fit against one kept by
`planner/fit_cache.py` (the digest of the runs is the whole cost of a hit), in one run.

Usage: .venv/bin/python bench/estimator_cost.py [--sizes 160,480,3000] [--repeats 5]

Histories are synthetic: six clients, one engagement of three tasks per client and week,
noisy paces. Prints median milliseconds per size and the ratio fit/hit; writes JSON to
bench/results/estimator_cost.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, print_table, write_json  # noqa: E402

from almanac.planner.calibration import Run, fit_workflow  # noqa: E402
from almanac.planner.fit_cache import FitCache  # noqa: E402
from almanac.planner.params import DEFAULT  # noqa: E402

TASKS = {"audit": 4.0, "call": 1.0, "report": 2.0}


def history(size: int, seed: int = 7) -> list[Run]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    out: list[Run] = []
    instance = 0
    while len(out) < size:
        client = instance % 6 + 1
        pace = 0.7 + 0.15 * client
        at = start + timedelta(days=instance)
        for task, hours in TASKS.items():
            actual = hours * pace * rng.lognormvariate(0, 0.25)
            out.append(Run(1, task, client, hours, actual, at, instance, hours))
        instance += 1
    return out[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="160,480,3000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows, out = [], {}
    for size in (int(s) for s in args.sizes.split(",")):
        runs = history(size)
        fresh, hit = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fit_workflow(1, runs, DEFAULT)
            fresh.append(time.perf_counter() - t)
            cache = FitCache()
            cache.fit(1, runs, DEFAULT)
            t = time.perf_counter()
            cache.fit(1, runs, DEFAULT)
            hit.append(time.perf_counter() - t)
        f, h = median(fresh) * 1000, median(hit) * 1000
        out[str(size)] = {"fit_ms": f, "hit_ms": h, "ratio": f / h}
        rows.append([str(size), f"{f:.1f}", f"{h:.2f}", f"{f / h:.0f}x"])
    print_table(
        "Fitting a workflow: fresh against kept",
        ["runs", "fit ms (median)", "kept ms (median)", "fit/kept"],
        rows,
    )
    print(f"wrote {write_json('estimator_cost', {'repeats': args.repeats, 'sizes': out})}")


if __name__ == "__main__":
    main()
