"""The learning loop, measured: does feedback from execution runs make estimates better?

Usage: .venv/bin/python bench/learning_loop.py [--weeks 8] [--seed 3] [--noise 0.15]

Simulates weeks of work on a fresh embedded Postgres, in-process through the public API:
six workflows from the starter library whose true durations differ from the library's
estimates (some systematically over, some under, one right, all with noise). Each week
every workflow is planned twice: by the planner as configured (feedback from runs) and
by the same planner with calibration switched off (no feedback; the same-run baseline).
The feedback plan is approved and "executed": execution runs record the true durations.
Then the week is reflected on. Reports the estimate error (mean absolute percentage error
of planned vs true task hours) per week for both arms. Target: by the last week the error
with feedback is at least 40% lower than without.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, print_table, write_json  # noqa: E402

from almanac.app import create_app  # noqa: E402
from almanac.cli.runtime import answer  # noqa: E402
from almanac.config import Settings  # noqa: E402
from almanac.deps import get_state  # noqa: E402
from almanac.state import AppState, build_state  # noqa: E402

# Workflow name -> how much longer (or shorter) the work truly takes than the library says.
BIAS = {
    "Business diagnostic": 1.5,
    "Marketing ops sprint": 1.35,
    "Client onboarding": 0.7,
    "Monthly client reporting": 1.25,
    "Content calendar": 0.8,
    "Proposal writing": 1.0,
}
ZONE = "Europe/Berlin"


def client_for(state: AppState) -> httpx.AsyncClient:
    from almanac.auth.deps import authenticate
    from almanac.cli.runtime import LOCAL_OWNER

    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    # In-process, like the CLI: the loop is measured, not authentication (bench/auth_bench.py).
    app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=120
    )


async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    return answer(await client.request(method, path, **kw))


def mape(pairs: list[tuple[float, float]]) -> float:
    return 100 * sum(abs(planned - true) / true for planned, true in pairs) / len(pairs)


async def simulate(weeks: int, seed: int, noise: float) -> dict[str, Any]:
    rng = random.Random(seed)
    tmp = tempfile.TemporaryDirectory(prefix="almanac-loop-")
    settings = Settings(data_dir=Path(tmp.name), timezone=ZONE, _env_file=None)  # type: ignore[call-arg]
    state = await build_state(settings)
    baseline_settings = settings.model_copy(deep=True)
    baseline_settings.planner.calibration_min_runs = 10**9  # no feedback
    baseline = replace(state, settings=baseline_settings)
    tz = ZoneInfo(ZONE)
    rows: list[dict[str, Any]] = []
    try:
        async with client_for(state) as api, client_for(baseline) as plain:
            await call(api, "POST", "/api/v1/planner/workflows/import")
            listed = await call(api, "GET", "/api/v1/planner/workflows", params={"limit": 100})
            ids = {w["name"]: w["id"] for w in listed["items"] if w["name"] in BIAS}
            first_monday = date(2026, 9, 7)
            for week in range(1, weeks + 1):
                monday = first_monday + timedelta(weeks=week - 1)
                with_fb: list[tuple[float, float]] = []
                without: list[tuple[float, float]] = []
                for n, (name, bias) in enumerate(BIAS.items()):
                    intent = f"{name} for client {week}-{n}"
                    body = {"intent": intent, "workflow_id": ids[name]}
                    plan = await call(api, "POST", "/api/v1/planner/plan", json=body)
                    other = await call(plain, "POST", "/api/v1/planner/plan", json=body)
                    plain_hours = {
                        t["id"]: t["estimate_hours"]
                        for s in other["sop"]["steps"]
                        for t in s["tasks"]
                    }
                    approved = await call(
                        api, "POST", f"/api/v1/planner/plans/{plan['id']}/approve"
                    )
                    tasks = [t for s in plan["sop"]["steps"] for t in s["tasks"]]
                    start = datetime.combine(monday + timedelta(days=n % 5), time(9), tz)
                    for task_id, task in zip(approved["task_ids"], tasks, strict=True):
                        library = plain_hours[task["id"]]
                        true = library * bias * math.exp(rng.gauss(0, noise))
                        with_fb.append((task["estimate_hours"], true))
                        without.append((library, true))
                        run = await call(
                            api,
                            "POST",
                            "/api/v1/planner/execution-runs",
                            json={"task_id": task_id, "started_at": start.isoformat()},
                        )
                        await call(
                            api,
                            "POST",
                            f"/api/v1/planner/execution-runs/{run['id']}/stop",
                            json={
                                "ended_at": (start + timedelta(hours=true)).isoformat(),
                                "actual_hours": round(true, 3),
                            },
                        )
                reflected = await api.post(
                    "/api/v1/observer/reflect",
                    params={"mode": "weekly", "date": monday.isoformat()},
                )
                rows.append(
                    {
                        "week": week,
                        "tasks": len(with_fb),
                        "mape_with_feedback": mape(with_fb),
                        "mape_without_feedback": mape(without),
                        "reflected": reflected.status_code == 200,
                    }
                )
                print(
                    f"week {week}: error {rows[-1]['mape_with_feedback']:.1f}% with feedback, "
                    f"{rows[-1]['mape_without_feedback']:.1f}% without",
                    flush=True,
                )
    finally:
        await state.close()
        tmp.cleanup()
    last = rows[-1]
    reduction = 1 - last["mape_with_feedback"] / last["mape_without_feedback"]
    return {"rows": rows, "last_week_reduction": reduction}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.15, help="sigma of log-normal noise")
    args = parser.parse_args()
    result = asyncio.run(simulate(args.weeks, args.seed, args.noise))
    rows = result["rows"]
    print_table(
        "estimate error by week (MAPE, %)",
        ["week", "tasks", "with feedback", "without feedback", "ratio", "reflected"],
        [
            [
                r["week"],
                r["tasks"],
                r["mape_with_feedback"],
                r["mape_without_feedback"],
                r["mape_with_feedback"] / r["mape_without_feedback"],
                r["reflected"],
            ]
            for r in rows
        ],
    )
    print(
        f"last week: {100 * result['last_week_reduction']:.0f}% lower error with feedback "
        f"(target >= 40%); median weekly ratio "
        f"{median([r['mape_with_feedback'] / r['mape_without_feedback'] for r in rows]):.2f}"
    )
    out = write_json(
        "learning_loop",
        {**result, "weeks": args.weeks, "seed": args.seed, "noise": args.noise, "target": 0.4},
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
