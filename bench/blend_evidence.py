"""Could a client's own estimate be checked against the library one week ahead? (issue 13)

Usage: .venv/bin/python bench/blend_evidence.py [--world noisy] [--seeds 41,42,52]
       [--weeks-scored 6]

Runs bench/learning_loop.py's simulation with the direct backend and, at its end, scores
each client's last `--weeks-scored` weeks of runs prequentially: every run is predicted by
a fit (planner/calibration.py, unchanged) of only the runs before its week, three ways —
the client's own estimate, the workflow's pooled one (the typical client) and the
library. Per client and workflow it prints how many engagements were scored and the
evidence, in units of the workflow's noise sigma, of the own estimate's summed absolute
log error (each engagement's tasks averaged) minus the library's and the pooled one's:
positive means the other predicted better. The last lines count the cases.

Round 19 (learn19) tried this record as a blend in the estimator (not kept): weights
exp(-loss / sigma) over the three per client, the own estimate favoured by a prior of 1
or 3 (log odds). Prior 1 lost gain in the clients and drift worlds; prior 3 moved the
noisy world's gain on seeds 41/42/51/52 from 56/46/92/79% to 60/49/92/80% (worst client
1.009 to 1.001) but the drift world's recoveries (held-out 31-37) from 7/13 to 4/13.
Leaning only as far as the record speaks against the own estimate (the library judged
over the workflow's clients together) gave 58/46/92/79%, worst 1.009, and 5/13. This
script says why: on those four seeds the library predicted better in 22 of 72
client-workflows, yet the evidence for it was at most +1.18 sigma (one case above 1
sigma), against down to -9.7 sigma where the own estimate was better; what the blend
gained came from the prior's pull towards the others, not from the record.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learning_backends import DirectBackend  # noqa: E402
from learning_loop import simulate  # noqa: E402

from almanac.planner.calibration import Run, WorkflowFit, fit_workflow  # noqa: E402
from almanac.planner.params import DEFAULT  # noqa: E402

WEEK = timedelta(days=7)


def level(f: WorkflowFit, task: str, client: int | None) -> float:
    """The log ratio `calibration.predict` gives, uncapped (None: the typical client)."""
    mu = f.a + f.steps.get(None, 0.0)
    support = f.client_support.get(client) if client is not None else None
    if client is not None and support is not None and support.runs:
        mu += f.steps.get(client, 0.0) + f.clients.get(client, 0.0)
    elif f.client_support:
        mu += f.typical
    own = f.task_support.get(task)
    return mu + (f.tasks.get(task, 0.0) if own is not None and own.runs else 0.0)


def evidence(runs: list[Run], weeks: int) -> dict[int, tuple[int, float, float]]:
    """Per client: engagements scored, own minus library and own minus pooled (in sigma)."""
    sigma = fit_workflow(1, runs).sigma
    newest = max(r.at for r in runs)
    errors: dict[int, dict[int, list[tuple[float, float, float]]]] = defaultdict(dict)
    for j in range(1, weeks + 1):
        cut, until = newest - j * WEEK, newest - (j - 1) * WEEK
        before = [r for r in runs if r.at < cut]
        scored = [
            r
            for r in runs
            if r.client_id is not None and (cut <= r.at < until or (j == 1 and r.at == newest))
        ]
        if not before or not scored:
            continue
        f = fit_workflow(1, before)
        for r in scored:
            assert r.client_id is not None
            y = math.log(max(r.actual_hours, 1e-3) / r.library_hours)
            errors[r.client_id].setdefault(r.instance, []).append(
                (abs(y - level(f, r.task, r.client_id)), abs(y - level(f, r.task, None)), abs(y))
            )
    out = {}
    for c, by in errors.items():
        loss = [sum(sum(e[k] for e in rows) / len(rows) for rows in by.values()) for k in (0, 1, 2)]
        out[c] = (len(by), (loss[0] - loss[2]) / sigma, (loss[0] - loss[1]) / sigma)
    return out


class Recorder(DirectBackend):
    """The direct backend, keeping each workflow's runs for scoring at the end."""

    def __init__(self, seed: int, weeks: int, found: list[tuple[Any, ...]]) -> None:
        super().__init__(DEFAULT)
        self.seed, self.weeks, self.found = seed, weeks, found

    async def __aexit__(self, *exc: object) -> None:
        for workflow, runs in sorted(self.runs.items()):
            for c, (n, lib, pooled) in sorted(evidence(runs, self.weeks).items()):
                self.found.append((self.seed, workflow, c, n, lib, pooled))


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--world", default="noisy")
    parser.add_argument("--seeds", default="41,42,52")
    parser.add_argument("--weeks-scored", type=int, default=6)
    args = parser.parse_args()
    found: list[tuple[Any, ...]] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        await simulate(args.world, seed, 12, Recorder(seed, args.weeks_scored, found))
    for seed, workflow, c, n, lib, pooled in found:
        print(
            f"{seed} {workflow[:24]:24s} client {c}: {n:2d} engagements, "
            f"library {lib:+.2f}, pooled {pooled:+.2f}"
        )
    for name, k in (("library", 4), ("pooled", 5)):
        xs = [row[k] for row in found]
        print(
            f"{name}: better in {sum(x > 0 for x in xs)}/{len(xs)} cases, largest evidence "
            f"for it {max(xs):+.2f} sigma, against it {min(xs):+.2f}; above 1/2/3 sigma: "
            f"{sum(x > 1 for x in xs)}/{sum(x > 2 for x in xs)}/{sum(x > 3 for x in xs)}"
        )


if __name__ == "__main__":
    asyncio.run(main())
