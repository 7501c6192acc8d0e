"""The learning loop, measured: do estimates learnt from execution runs beat the library?

Usage: .venv/bin/python bench/learning_loop.py [--worlds today,clients,drift,noisy,everything]
       [--split heldout|train] [--seeds 31,32] [--weeks 12] [--backend api|direct] [--tune]
       [--noise-shape log|linear] [--out FILE]

Each world (bench/learning_worlds.py) is simulated week by week on a fresh embedded
Postgres, in-process through the public HTTP API (bench/learning_backends.py): every
engagement is planned twice by the same server — `"estimates": "calibrated"` (feedback)
and `"estimates": "library"` (the per-request baseline) — the feedback plan is approved
and its tasks "executed": execution runs record the true durations, except for work that
is never logged. An oracle that knows each task's true pace (the noise-free duration) is
the floor. What is measured is in bench/learning_metrics.py: per week, per client and per
workflow MALR and MAPE, the share of the achievable gain captured, drift recovery on
probes at d-1..d+4, the 80% intervals' coverage.

Targets, in every world: >= 70% of the achievable gain over the last four weeks, never
worse than the library for any client after week 4, within 10% of a new pace 3 weeks
after a drift (workflow-wide and per client), 80% intervals covering about 80%.

Seeds: the training seeds (100-117) are the only ones parameters were chosen on
(`--tune`, or by hand with `--split train`); the held-out seeds (31-37) are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import random
import sys
from collections import defaultdict
from dataclasses import asdict, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_json  # noqa: E402
from learning_backends import ZONE, ApiBackend, DirectBackend  # noqa: E402
from learning_metrics import (  # noqa: E402
    PROBE_WEEKS,
    RECOVER_BY,
    Probe,
    Row,
    change_week,
    summarize,
    timed_floor,
    verdict,
)
from learning_worlds import SPECS, World, add_task_bias, build, engagements, true_hours  # noqa: E402

from almanac.planner.params import DEFAULT, Params  # noqa: E402

TRAIN_SEEDS = tuple(range(100, 118))
HELD_OUT_SEEDS = (31, 32, 33, 34, 35, 36, 37)


async def simulate(world_name: str, seed: int, weeks: int, backend: Any) -> dict[str, Any]:
    spec = SPECS[world_name]
    world = build(spec, seed, weeks)
    rng = random.Random(f"run:{world_name}:{seed}")
    tz = ZoneInfo(ZONE)
    today = datetime.now(tz).date()
    first_monday = today - timedelta(days=today.weekday(), weeks=weeks)
    rows: list[Row] = []
    probes: list[Probe] = []
    controls: list[Probe] = []
    logged_weeks: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    # Per (workflow, client): (week, log(actual / true pace)) of each logged task.
    noise: dict[tuple[str, int | None], list[tuple[int, float]]] = defaultdict(list)
    # For the timed floor: per (workflow, client) (week, task, hours) of each logged task,
    # per (drift, client) the plan at d+0 (task -> hours).
    logged_runs: dict[tuple[str, int | None], list[tuple[int, str, float]]] = defaultdict(list)
    plan0: dict[tuple[int, int | None], dict[str, float]] = {}
    matched = total = 0
    reflected = True
    async with backend as b:
        add_task_bias(world, {w: list(b.tasks[w]) for w in world.workflows})
        for week in range(1, weeks + 2):
            # Probes first: the plan a drifted client would get now, before this week's work.
            for i, d in enumerate(world.drifts):
                if d.ramp or week - d.week not in PROBE_WEEKS:
                    continue
                for c in world.clients() if d.client is None else [d.client]:
                    plan = await b.probe(d.workflow, c)
                    truth = sum(p.library * world.pace(p.workflow, p.key, c, week) for p in plan)
                    seen = sum(d.week <= w < week for w in logged_weeks[(d.workflow, c)])
                    planned = sum(p.hours for p in plan)
                    # The floor: the old pace known exactly, the new one read from the runs
                    # logged since the drift (this client's, or any client's if
                    # workflow-wide), the least any estimator must be off by.
                    who = world.clients() if d.client is None else [c]
                    since = [x for c2 in who for w, x in noise[(d.workflow, c2)] if d.week <= w]
                    floor = math.exp(sum(since) / len(since)) if since else 1 / d.factor
                    if week < d.week:
                        floor = 1.0
                    if week == d.week:
                        plan0[(i, c)] = {p.key: p.hours for p in plan}
                    logs = [(c2, logged_runs[(d.workflow, c2)]) for c2 in who]
                    since_drift = [(c2, k, h) for c2, rs in logs for w, k, h in rs if w >= d.week]
                    timed = (timed_floor(plan0, i, c, since_drift) or planned) / truth
                    found = change_week([p.change for p in plan], first_monday, d.week)
                    logged = tuple(
                        logged_weeks[(d.workflow, c)].count(w) for w in range(d.week, week)
                    )
                    probes.append(
                        Probe(
                            i, week - d.week, c, planned, truth, seen, floor, timed, found, logged
                        )
                    )
            if any(not d.ramp and week == d.week + RECOVER_BY for d in world.drifts):
                controls += await control_probes(world, b, week, logged_weeks)
            if week > weeks:
                break
            monday = first_monday + timedelta(weeks=week - 1)
            for e in engagements(world, week, rng):
                handle, fb = await b.plan(e, "calibrated", spec.phrased)
                _, lib = await b.plan(e, "library", spec.phrased)
                total += 1
                matched += all(p.workflow == e.workflow for p in fb)
                start = datetime.combine(monday + timedelta(days=e.day), time(9), tz)
                done = []
                for p, q in zip(fb, lib, strict=True):
                    # The work is what was planned: a task's truth is its own workflow's.
                    real = replace(e, workflow=p.workflow)
                    hours, logged = true_hours(world, real, p.key, p.library, rng)
                    done.append((hours, logged))
                    oracle = p.library * world.pace(p.workflow, p.key, e.client, week)
                    if logged:
                        noise[(p.workflow, e.client)].append((week, math.log(hours / oracle)))
                        logged_runs[(p.workflow, e.client)].append((week, p.key, hours))
                    rows.append(
                        Row(
                            week,
                            e.client,
                            p.workflow,
                            p.hours,
                            q.hours,
                            oracle,
                            hours,
                            p.low,
                            p.high,
                        )
                    )
                if any(logged for _, logged in done):
                    logged_weeks[(e.workflow, e.client)].append(week)
                await b.execute(handle, done, start)
            if world_name == "today":
                reflected = await b.reflect(monday) and reflected
    return summarize(world, rows, probes, weeks, controls) | {
        "engagements": total,
        "match_rate": matched / max(1, total),
        "no_match_named_instead": getattr(backend, "unmatched", 0) / 2,  # both arms count
        "reflected": reflected,
    }


async def control_probes(
    world: World, b: Any, week: int, logged: dict[tuple[str, int | None], list[int]]
) -> list[Probe]:
    """The same probe for every client-workflow no drift has touched by `week` and with
    work logged: how often an estimate in its steady state is within 10% (the ceiling of a
    drift case measured at that week). `drift` is the workflow's index, `k` the week."""
    out = []
    for n, workflow in enumerate(world.workflows):
        for c in world.clients():
            touched = any(
                d.workflow == workflow and d.client in (None, c) and d.week <= week
                for d in world.drifts
            )
            if touched or not logged[(workflow, c)]:
                continue
            plan = await b.probe(workflow, c)
            truth = sum(p.library * world.pace(p.workflow, p.key, c, week) for p in plan)
            planned = sum(p.hours for p in plan)
            out.append(Probe(n, week, c, planned, truth, len(logged[(workflow, c)])))
    return out


async def run(
    worlds: list[str], seeds: list[int], weeks: int, backend: str, params: Params
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in worlds:
        out[name] = []
        for seed in seeds:
            b = ApiBackend(params) if backend == "api" else DirectBackend(params)
            result = await simulate(name, seed, weeks, b)
            out[name].append(result)
            last = result["last4"]
            print(
                f"{name} seed {seed}: last 4 weeks MALR {last['malr_feedback']:.3f} feedback, "
                f"{last['malr_library']:.3f} library, {last['malr_oracle']:.3f} oracle; "
                f"gain {100 * last['gain']:.0f}%; coverage {100 * result['coverage80']:.0f}%",
                flush=True,
            )
    return out


def tune(
    weeks: int,
    worlds: list[str] = ["clients", "drift", "everything"],  # noqa: B006
    half_lives: tuple[float, ...] = (21.0, 42.0, 84.0),
    tau_changes: tuple[float, ...] = (0.5,),
) -> Params:
    """Choose half-life and step shrinkage on the training seeds (direct backend)."""
    best: tuple[float, Params] | None = None
    for half_life, tau in itertools.product(half_lives, tau_changes):
        params = replace(DEFAULT, half_life_days=half_life, tau_change=tau)
        results = asyncio.run(run(worlds, list(TRAIN_SEEDS), weeks, "direct", params))
        checks = [verdict(rs) for rs in results.values()]
        score = mean(c["gain_mean"] for c in checks) - sum(
            0.2 * (not c["clients_ok"]) + 0.2 * (not c["drift_ok"]) for c in checks
        )
        print(f"half-life {half_life:g} d, tau_change {tau:g}: score {score:.3f}", flush=True)
        if best is None or score > best[0]:
            best = (score, params)
    assert best is not None
    return best[1]


def _changes(found: list[int | None]) -> str:
    """The change each drifted client's plan followed: its first week from the drift's
    (d+0, d-2: found before the drift), '-' for none; one per client."""
    return ",".join("-" if k is None else f"d{k:+d}" for k in found) or "?"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def report(results: dict[str, list[dict[str, Any]]], weeks: int, label: str) -> dict[str, Any]:
    verdicts = {w: verdict(rs) for w, rs in results.items()}
    ks = [k for k in PROBE_WEEKS if k >= 1]
    print_table(
        f"learning loop per world ({label}; mean over seeds, last 4 weeks unless said)",
        ["world", "MALR fb", "MALR lib", "MALR oracle", "gain", "gain min", "MAPE fb"]
        + ["MAPE lib", "worst client fb/lib (wk>4)", "80% coverage", "coverage by seed"]
        + [f"drift off d+{k} (median, max)" for k in ks]
        + ["within 10% at d+3", "one client / workflow-wide", "by engagements seen 1 / 2 / 3+"]
        + ["floor d+3 (median; within 10%)", "timed floor d+3 (median; within 10%)"]
        + ["80% width (high/low)"],
        [
            [
                w,
                mean(r["last4"]["malr_feedback"] for r in rs),
                mean(r["last4"]["malr_library"] for r in rs),
                mean(r["last4"]["malr_oracle"] for r in rs),
                _pct(v["gain_mean"]),
                _pct(v["gain_min"]),
                mean(r["last4"]["mape_feedback"] for r in rs),
                mean(r["last4"]["mape_library"] for r in rs),
                v["worst_client_ratio"],
                _pct(v["coverage80"]),
                " ".join(_pct(c) for c in v["coverage80_by_seed"]),
            ]
            + [
                f"{_pct(v['drift_off_median_by_k'].get(k))}, {_pct(v['drift_off_max_by_k'].get(k))}"
                if v["drift_cases"]
                else "-"
                for k in ks
            ]
            + (
                [
                    f"{v['drift_recovered']}/{v['drift_measurable']} (of {v['drift_cases']})",
                    " / ".join(f"{a}/{n}" for a, n in v["drift_by_kind"].values()),
                    " / ".join(f"{a}/{n}" for a, n in v["drift_by_seen"].values()),
                    f"{_pct(v['drift_floor_median_by_k'].get(3))}; {v['drift_floor_within']}",
                    f"{_pct(v['drift_timed_median_by_k'].get(3))}; {v['drift_timed_within']}",
                ]
                if v["drift_cases"]
                else ["-", "-", "-", "-", "-"]
            )
            + [f"{v['width80']:.2f}x"]
            for w, v in verdicts.items()
            for rs in [results[w]]
        ],
        min_width=260,
    )
    print_table(
        f"drift cases ({label}): the drifted client's next plan vs the new true pace",
        ["world", "seed", "workflow", "client", "week d", "factor"]
        + [f"d{k:+d}" for k in PROBE_WEEKS]
        + ["floor d+3", "timed floor d+3", "engagements seen by d+3"]
        + ["logged per week d..d+2", "change followed at d+1..d+3 (week from d)"],
        [
            [w, r["seed"], d["workflow"], d["client"] or "all", d["week"], d["factor"]]
            + [_pct(d["off_by_k"].get(k)) for k in PROBE_WEEKS]
            + [_pct(d["floor_by_k"].get(3)), _pct(d["timed_by_k"].get(3))]
            + [d["seen_by_k"].get(3, "-")]
            + [" ".join(map(str, d.get("logged_by_week", []))) or "-"]
            + [" | ".join(_changes(d.get("change_by_k", {}).get(k, [])) for k in (1, 2, 3))]
            for w, rs in results.items()
            for r in rs
            for d in r["drifts"]
        ],
        min_width=200,
    )
    for w, rs in results.items():
        print_table(
            f"{w}: MALR by week (mean over seeds)",
            ["week", "feedback", "library", "oracle", "gain", "MAPE fb", "MAPE lib"],
            [
                [
                    week,
                    mean(r["weeks"][week]["malr_feedback"] for r in rs),
                    mean(r["weeks"][week]["malr_library"] for r in rs),
                    mean(r["weeks"][week]["malr_oracle"] for r in rs),
                    _pct(mean(r["weeks"][week]["gain"] for r in rs)),
                    mean(r["weeks"][week]["mape_feedback"] for r in rs),
                    mean(r["weeks"][week]["mape_library"] for r in rs),
                ]
                for week in range(1, weeks + 1)
                if all(week in r["weeks"] for r in rs)
            ],
        )
        merged: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
        for r in rs:
            for kind in ("clients", "workflows"):
                for k, v in r[kind].items():
                    merged[(kind[:-1], str(k))].append(v)
        print_table(
            f"{w}: per client and per workflow after week 4 (mean over seeds)",
            ["by", "who", "MALR fb", "MALR lib", "MALR oracle", "fb/lib", "gain"],
            [
                [
                    kind,
                    k,
                    mean(v["malr_feedback"] for v in vs),
                    mean(v["malr_library"] for v in vs),
                    mean(v["malr_oracle"] for v in vs),
                    mean(v["malr_feedback"] / v["malr_library"] for v in vs),
                    _pct(mean(v["gain"] for v in vs)),
                ]
                for (kind, k), vs in sorted(merged.items())
            ],
        )
    for w, v in verdicts.items():
        ok = {k: "ok" if v[k] else "MISSED" for k in ("gain_ok", "clients_ok", "drift_ok")}
        print(
            f"{w}: gain {_pct(v['gain_mean'])} (>= 70%: {ok['gain_ok']}); worst client fb/lib "
            f"{v['worst_client_ratio']:.2f} ({ok['clients_ok']}); drift within 10% at d+3 "
            f"{v['drift_recovered']}/{v['drift_measurable']} measurable ({ok['drift_ok']}; "
            f"one client {'/'.join(map(str, v['drift_by_kind']['client']))}, workflow-wide "
            f"{'/'.join(map(str, v['drift_by_kind']['workflow']))}, "
            f"{v['drift_unmeasurable']} not measurable: nothing logged since the drift); "
            f"80% coverage {_pct(v['coverage80'])}, width {v['width80']:.2f}x"
        )
        if any(n for _, n in v["control_within"].values()):
            a, b = v["control_within"]["client"], v["control_within"]["workflow"]
            print(
                f"  {w}, where nothing drifted (same weeks): within 10% one client "
                f"{a[0]}/{a[1]} ({_pct(a[0] / max(1, a[1]))}), workflow-wide {b[0]}/{b[1]} "
                f"({_pct(b[0] / max(1, b[1]))})"
            )
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--worlds", default=",".join(SPECS))
    parser.add_argument("--split", choices=["heldout", "train"], default="heldout")
    parser.add_argument("--seeds", help="overrides --split (never the training seeds)")
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--backend", choices=["api", "direct"], default="api")
    parser.add_argument(
        "--tune", action="store_true", help="choose parameters on the training seeds first"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the result file, written as given (default bench/results/learning_loop.json)",
    )
    parser.add_argument(
        "--noise-shape",
        choices=["log", "linear"],
        default="log",
        help="noise around the pace: log-normal, or normal in hours (mean = the pace)",
    )
    args = parser.parse_args()
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",")]
        if set(seeds) & set(TRAIN_SEEDS):
            parser.error(f"seeds {TRAIN_SEEDS} are the training seeds: use --split train")
    else:
        seeds = list(TRAIN_SEEDS if args.split == "train" else HELD_OUT_SEEDS)
    label = "training seeds" if args.split == "train" and not args.seeds else "held-out seeds"
    for name in SPECS:
        SPECS[name] = replace(SPECS[name], shape=args.noise_shape)
    params = tune(args.weeks) if args.tune else DEFAULT
    print(f"parameters: {asdict(params)}")
    results = asyncio.run(run(args.worlds.split(","), seeds, args.weeks, args.backend, params))
    verdicts = report(results, args.weeks, f"{label} {','.join(map(str, seeds))}")
    out = write_json(
        "learning_loop",
        {
            "weeks": args.weeks,
            "seeds": seeds,
            "split": label,
            "training_seeds": list(TRAIN_SEEDS),
            "backend": args.backend,
            "noise_shape": args.noise_shape,
            "params": asdict(params),
            "verdicts": verdicts,
            "results": results,
        },
        args.out,
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
