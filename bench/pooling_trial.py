"""A client's pace pooled across workflows (planner/pooling.py), paired against main.

Usage: .venv/bin/python bench/pooling_trial.py [--pool] [--worlds noisy] [--seeds 41,42]

Runs bench/learning_loop.py's simulation with the direct backend; with `--pool` each plan
first fits every workflow alone (cached), reads each client's pace on the other workflows
(planner/pooling.py) and refits the planned workflow with that as the client's prior.
Prints per world the last-four-weeks gain and the worst client's feedback / library per
seed, and the drift recoveries within 10% at d+3.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learning_backends as lb  # noqa: E402
import learning_loop  # noqa: E402
from learning_metrics import verdict  # noqa: E402

from almanac.planner.calibration import fit_workflow, predict  # noqa: E402
from almanac.planner.estimates import round_hours  # noqa: E402
from almanac.planner.fit_cache import FITS  # noqa: E402
from almanac.planner.params import DEFAULT  # noqa: E402
from almanac.planner.pooling import client_priors  # noqa: E402


class Pooled(lb.DirectBackend):
    def _estimate(self, workflow: str, client: int | None, calibrated: bool) -> list[lb.Planned]:
        runs = self.runs[workflow]
        fitted = None
        if calibrated and runs:
            alone = {
                self.ids[w]: FITS.fit(self.ids[w], rs, self.params)
                for w, rs in self.runs.items()
                if rs
            }
            prior = client_priors(alone, self.params).get(self.ids[workflow])
            fitted = fit_workflow(self.ids[workflow], runs, self.params, prior)
        out = []
        for key, lib in self.tasks[workflow].items():
            est = predict(fitted, key, client, self.params) if fitted else None
            est = est or predict(None, key, client, self.params)
            out.append(
                lb.Planned(
                    workflow,
                    key,
                    lib,
                    round_hours(lib * est.ratio),
                    lib * est.low,
                    lib * est.high,
                    est.change_at,
                )
            )
        return out


async def main_async(worlds: list[str], seeds: list[int], pool: bool) -> None:
    for world in worlds:
        results: list[dict[str, Any]] = []
        for seed in seeds:
            b = Pooled(DEFAULT) if pool else lb.DirectBackend(DEFAULT)
            results.append(await learning_loop.simulate(world, seed, 12, b))
        v = verdict(results)
        for r in results:
            worst = max(c["malr_feedback"] / c["malr_library"] for c in r["clients"].values())
            print(f"{world} seed {r['seed']}: gain {r['last4']['gain']:.3f}, worst {worst:.3f}")
        print(
            f"{world}: gain {v['gain_mean']:.3f}, worst client {v['worst_client_ratio']:.3f}, "
            f"drift within 10% at d+3 {v['drift_recovered']}/{v['drift_measurable']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--worlds", default="noisy")
    parser.add_argument("--seeds", default="41,42")
    parser.add_argument("--pool", action="store_true", help="pool each client's pace")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    asyncio.run(main_async(args.worlds.split(","), seeds, args.pool))


if __name__ == "__main__":
    main()
