"""The request paths that reach other domains' tables through their owners' repositories,
timed on a fresh embedded Postgres: the context block's agenda (open tasks, next blocks),
a daily reflection (the period's tasks, runs, blocks, sprint, memories), the task list,
and a schedule preview (plans, tasks and preferences through the planner and memory).

`.venv/bin/python bench/owner_paths.py --baseline <other checkout>/src` runs the same
measurement against the baseline checkout and this one, alternated, each in a subprocess
on its own fresh database; it prints the medians and their ratio and writes JSON to
bench/results/owner_paths.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import median, print_table, write_json  # noqa: E402

from almanac.config import Settings  # noqa: E402
from almanac.models import ExecutionRun, Plan, SchedulerRun, Task  # noqa: E402

CLIENTS, PLANS_PER_CLIENT, TASKS_PER_PLAN = 8, 6, 8


async def seed(state: Any) -> None:
    """Plans of several clients with tasks, a written schedule each, runs of done work."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    async with state.sessionmaker() as session:
        for c in range(1, CLIENTS + 1):
            for p in range(PLANS_PER_CLIENT):
                plan = Plan(
                    plan_title=f"client {c} plan {p}",
                    intent="bench",
                    sop={"tasks": []},
                    status="scheduled" if p % 2 else "approved",
                    client_id=c,
                )
                session.add(plan)
                await session.flush()
                blocks = []
                for t in range(TASKS_PER_PLAN):
                    start = now + timedelta(hours=2 * t + p, days=c % 5)
                    task = Task(
                        plan_id=plan.id,
                        plan_task_key=f"t{t}",
                        title=f"Task {t} of plan {p}",
                        status="done" if t < 2 else "todo",
                        estimate_hours=1.5,
                        priority=2,
                        client_id=c,
                        scheduled_start=start,
                        deadline=now + timedelta(days=10),
                    )
                    session.add(task)
                    await session.flush()
                    if t < 2:
                        session.add(
                            ExecutionRun(
                                task_id=task.id,
                                started_at=now - timedelta(hours=3 + t),
                                ended_at=now - timedelta(hours=2 + t),
                                actual_hours=1.2,
                                estimated_hours=1.5,
                                status="completed",
                            )
                        )
                    blocks.append(
                        {
                            "task_key": f"t{t}",
                            "chunk": 0,
                            "start": start.isoformat(),
                            "end": (start + timedelta(hours=1)).isoformat(),
                        }
                    )
                session.add(
                    SchedulerRun(plan_id=plan.id, schedule_blocks=blocks, status="scheduled")
                )
        await session.commit()


async def timed(client: httpx.AsyncClient, method: str, url: str, n: int, **kw: Any) -> float:
    """Median milliseconds of `n` requests (after one warm-up); every answer must be 2xx."""
    await client.request(method, url, **kw)
    seconds = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.request(method, url, **kw)
        seconds.append(time.perf_counter() - t0)
        assert r.is_success, (url, r.status_code, r.text[:300])
    return median(seconds) * 1000


async def run(label: str, n: int) -> dict[str, Any]:
    from almanac.app import create_app
    from almanac.auth.deps import authenticate
    from almanac.cli.runtime import LOCAL_OWNER, local_state
    from almanac.deps import get_state

    out: dict[str, Any] = {"label": label, "requests": n}
    with tempfile.TemporaryDirectory(prefix="almanac-owner-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        settings.security.rate_limit = "1000000/minute"
        settings.security.write_rate_limit = "1000000/minute"
        settings.planner.starter_library = False
        async with local_state(settings) as state:
            await seed(state)
            app = create_app(state=state)
            app.dependency_overrides[get_state] = lambda: state
            app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://localhost", timeout=120
            ) as client:
                context = {"query": "plan", "client_id": 3}
                out["context_client_ms"] = await timed(
                    client, "GET", "/api/v1/memory/context", n, params=context
                )
                out["context_all_ms"] = await timed(
                    client, "GET", "/api/v1/memory/context", n, params={"query": "plan"}
                )
                out["reflect_daily_ms"] = await timed(
                    client, "POST", "/api/v1/observer/reflect", n, params={"mode": "daily"}
                )
                out["tasks_list_ms"] = await timed(
                    client, "GET", "/api/v1/planner/tasks", n, params={"client_id": 3}
                )
                body = {"plan_id": 1, "horizon_days": 7, "dry_run": True}
                out["schedule_preview_ms"] = await timed(
                    client, "POST", "/api/v1/scheduler/schedule", max(3, n // 10), json=body
                )
    return out


def measure_in(src: Path, label: str, n: int) -> dict[str, Any]:
    """One measurement in a subprocess importing Almanac from `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    here = str(Path(__file__).parent)
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {here!r}); import owner_paths; "
        f"print(json.dumps(asyncio.run(owner_paths.run({label!r}, {n}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout's src/")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="baseline/this pairs, alternated")
    args = parser.parse_args()
    this = Path(__file__).resolve().parents[1] / "src"
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
    for _ in range(args.rounds):
        runs["baseline"].append(measure_in(args.baseline, "baseline", args.requests))
        runs["this"].append(measure_in(this, "this", args.requests))
    keys = [k for k in runs["this"][0] if k.endswith("_ms")]
    rows = []
    summary: dict[str, Any] = {}
    for key in keys:
        base = median([r[key] for r in runs["baseline"]])
        mine = median([r[key] for r in runs["this"]])
        summary[key] = {"baseline": base, "this": mine, "ratio": mine / base}
        rows.append([key, base, mine, mine / base])
    print_table(
        "median ms per request (medians of the rounds)",
        ["path", "baseline", "this checkout", "ratio"],
        rows,
    )
    print(write_json("owner_paths", {"baseline": str(args.baseline), "runs": runs, **summary}))


if __name__ == "__main__":
    main()
