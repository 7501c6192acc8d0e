"""Dashboard: server response per page, first-load bytes, and the server's RSS.

Usage: .venv/bin/python bench/dashboard_bench.py [--memories 10000] [--plans 50] [--requests 100]

Runs `almanac serve` on a fresh embedded database, fills it through the API the way a user
would (10,000 memories in batches, facts, 50 plans from the starter library, some approved
and scheduled, two weeks of daily reflections), then for every page measures:

- the page itself (GET /ui/<page>, a server-rendered shell) and every API call the page's
  script makes when it loads (the same calls, with the same parameters), p50/p95 over
  --requests sequential requests each; the page's figure is the slowest of them;
- the same-run baseline: GET /static/app.css, the cheapest response through the same stack;
- with Chromium at /usr/bin/chromium: the bytes a first load transfers (every response of a
  fresh browser context, HTML, CSS, JS and JSON), loading the page in a real browser;
- the server process's RSS after all of it, and what importing the dashboard costs in a
  bare interpreter (time, peak RSS) next to importing what it builds on (`almanac.deps`).

Targets (issue 11): p95 < 150 ms per page, first load < 500 KB.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median, percentile, print_table, write_json  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WORDS = (
    "client call invoice deadline workshop report audit budget campaign review roadmap "
    "onboarding pricing contract design launch newsletter analytics hiring retro sprint"
).split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(
        ALMANAC_DATA_DIR=str(data_dir),
        ALMANAC_TIMEZONE="Europe/Berlin",
        # The benchmark measures pages, not the per-key rate limiter (bench/auth_bench.py).
        ALMANAC_SECURITY__RATE_LIMIT="1000000/minute",
        ALMANAC_SECURITY__WRITE_RATE_LIMIT="1000000/minute",
    )
    port = free_port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "almanac"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)
    deadline = time.time() + 180
    while True:
        try:
            if client.get("/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            proc.kill()
            raise SystemExit("server did not become healthy")
        time.sleep(0.3)
    key_file = data_dir / "api-key"
    if key_file.exists():  # API keys (issue 14): the first start writes an admin key
        client.headers["Authorization"] = f"Bearer {key_file.read_text().strip()}"
    return proc, client


def ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise SystemExit(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}")
    return r.json() if r.content else None


def fill(client: httpx.Client, memories: int, plans: int) -> dict[str, Any]:
    rng = random.Random(11)
    t0 = time.perf_counter()
    for start_at in range(0, memories, 1000):
        items = [
            {
                "content": " ".join(rng.choices(WORDS, k=12)) + f" note {i}",
                "client_id": rng.randint(1, 20),
                "salience_score": round(rng.random() * 0.6, 2),
                "idempotency_key": f"bench-{i}",
            }
            for i in range(start_at, min(memories, start_at + 1000))
        ]
        ok(client.post("/api/v1/memory/remember/batch", json={"items": items}))
    for i in range(300):
        ok(
            client.post(
                "/api/v1/memory/facts",
                json={
                    "subject_type": "client",
                    "subject_id": str(i % 40),
                    "fact_type": rng.choice(["preference", "constraint", "identity"]),
                    "category": f"c{i % 5}",
                    "content": " ".join(rng.choices(WORDS, k=8)),
                },
            )
        )
    ok(client.post("/api/v1/planner/workflows/import"))
    names = [w["name"] for w in ok(client.get("/api/v1/planner/workflows?limit=100"))["items"]]
    ids = []
    for i in range(plans):
        body = {"intent": f"{names[i % len(names)]} for client {i}", "client_id": 1 + i % 20}
        ids.append(ok(client.post("/api/v1/planner/plan", json=body))["id"])
    for pid in ids[:20]:
        ok(client.post(f"/api/v1/planner/plans/{pid}/approve"))
    monday = date.today() + timedelta(days=7 - date.today().weekday())
    for pid in ids[:3]:
        body = {"plan_id": pid, "start_date": monday.isoformat(), "dry_run": False}
        ok(client.post("/api/v1/scheduler/schedule", json=body))
    ok(
        client.post(
            "/api/v1/scheduler/sprints", json={"week_start": str(monday), "capacity_hrs": 32}
        )
    )
    for back in range(14):
        day = date.today() - timedelta(days=back)
        ok(client.post(f"/api/v1/observer/reflect?mode=daily&date={day}"))
    ok(client.post("/api/v1/observer/reflect?mode=weekly"))
    return {"monday": monday, "plan_ids": ids, "fill_seconds": time.perf_counter() - t0}


def page_calls(monday: date, plan_ids: list[int]) -> dict[str, list[str]]:
    """What each page's script requests when it loads (memory: one search)."""
    today = date.today()
    week_end = monday + timedelta(days=6)
    return {
        "today": [
            f"/api/v1/scheduler/calendar?start_date={today}&end_date={today}",
            *[
                f"/api/v1/planner/plans?status={s}&limit=50"
                for s in ("approved", "scheduled", "active")
            ],
        ],
        "week": [
            f"/api/v1/scheduler/calendar?start_date={monday}&end_date={week_end}",
            *[f"/api/v1/planner/plans/{p}" for p in plan_ids[:3]],
            "/api/v1/planner/plans?status=approved&limit=50",
            "/api/v1/planner/plans?status=scheduled&limit=50",
            "/api/v1/scheduler/sprints?limit=500",
        ],
        "plans": ["/api/v1/planner/plans?limit=20", f"/api/v1/planner/plans/{plan_ids[0]}"],
        "memory": [
            "/api/v1/memory/recall?query=client+deadline+review&k=50",
            "/api/v1/memory/facts?subject_type=client&subject_id=3&include_history=true&limit=1000",
        ],
        "reflections": [
            "/api/v1/observer/reflections?mode=daily&limit=60",
            "/api/v1/observer/reflections?mode=weekly&limit=12",
            "/api/v1/observer/patterns",
        ],
        "prompts": [
            "/api/v1/planner/prompts",
            "/api/v1/planner/prompts/sop_generator/versions",
            "/api/v1/planner/llm/usage",
        ],
        "settings": ["/health", "/oauth/status"],
    }


def timed(client: httpx.Client, path: str, n: int, warm: int = 3) -> list[float]:
    """Latencies of n sequential GETs after `warm` uncounted ones (template compilation,
    the first OpenAPI build and cold caches happen once per process, not per page view)."""
    for _ in range(warm):
        client.get(path)
    out = []
    for i in range(n):
        # The recall cache would answer repeats; vary the query so each one is searched.
        p = (
            path.replace("query=client", f"query=client+{WORDS[i % len(WORDS)]}")
            if "recall" in path
            else path
        )
        t = time.perf_counter()
        r = client.get(p)
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code >= 400:
            raise SystemExit(f"GET {p}: {r.status_code} {r.text[:200]}")
    return out


def first_load_bytes(base: str, pages: list[str], key: str | None) -> dict[str, int] | None:
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        for name in pages:
            context = browser.new_context()
            page = context.new_page()
            if key:  # sign in first; the sign-in's own bytes are not counted
                page.goto(base + "/ui/signin")
                page.get_by_role("textbox", name="API key").fill(key)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/ui/today")
                page.wait_for_load_state("networkidle")
                page = context.new_page()
            sizes: list[int] = []

            def count(response: Any, sizes: list[int] = sizes) -> None:
                try:
                    sizes.append(
                        len(response.body())
                        + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
                    )
                except Exception:
                    sizes.append(0)

            page.on("response", count)
            page.goto(f"{base}/ui/{name}")
            page.wait_for_load_state("networkidle")
            out[name] = sum(sizes)
            context.close()
        browser.close()
    return out


def import_cost(module: str) -> tuple[float, float]:
    code = (
        "import resource, time; t = time.perf_counter(); import " + module + "; "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, kb = out.stdout.split()
    return float(seconds), int(kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--plans", type=int, default=50)
    ap.add_argument("--requests", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="almanac-dash-bench-") as tmp:
        proc, client = start(Path(tmp) / "data")
        try:
            seeded = fill(client, args.memories, args.plans)
            print(f"filled in {seeded['fill_seconds']:.0f} s")
            server = psutil.Process(proc.pid)
            rss_before = server.memory_info().rss / 2**20
            base = timed(client, "/static/app.css", args.requests)
            rows, results = [], {}
            calls = page_calls(seeded["monday"], seeded["plan_ids"])
            for name, paths in calls.items():
                shell = timed(client, f"/ui/{name}", args.requests)
                per_call = {p: timed(client, p, args.requests) for p in paths}
                worst = max(per_call.items(), key=lambda kv: percentile(kv[1], 95))
                p95 = max(percentile(shell, 95), percentile(worst[1], 95))
                results[name] = {
                    "shell_p50_ms": median(shell),
                    "shell_p95_ms": percentile(shell, 95),
                    "calls": {
                        p: {"p50_ms": median(v), "p95_ms": percentile(v, 95)}
                        for p, v in per_call.items()
                    },
                    "page_p95_ms": p95,
                }
                rows.append(
                    [
                        name,
                        median(shell),
                        percentile(shell, 95),
                        worst[0][:60],
                        percentile(worst[1], 95),
                        p95 / median(base),
                        "yes" if p95 < 150 else "NO",
                    ]
                )
            print_table(
                f"Dashboard pages ({args.memories} memories, {args.plans} plans, "
                f"{args.requests} requests each)",
                [
                    "page",
                    "shell p50 ms",
                    "shell p95 ms",
                    "slowest call on load",
                    "its p95 ms",
                    "page p95 / baseline p50",
                    "< 150 ms",
                ],
                rows,
            )
            key = client.headers.get("Authorization", "").removeprefix("Bearer ") or None
            loads = first_load_bytes(str(client.base_url).rstrip("/"), list(calls), key)
            if loads:
                print_table(
                    "First load in Chromium (bytes of every response)",
                    ["page", "KB", "< 500 KB"],
                    [[k, v / 1024, "yes" if v < 500 * 1024 else "NO"] for k, v in loads.items()],
                )
            rss_after = server.memory_info().rss / 2**20
            web_s, web_mb = import_cost("almanac.web")
            fa_s, fa_mb = import_cost("almanac.deps")
            print_table(
                "Memory and import cost",
                ["measure", "value"],
                [
                    ["server RSS after filling (MB)", rss_before],
                    ["server RSS after the page benchmark (MB)", rss_after],
                    ["import almanac.web: seconds / peak RSS MB", f"{web_s:.2f} / {web_mb:.0f}"],
                    [
                        "import almanac.deps (what the dashboard builds on): s / peak MB",
                        f"{fa_s:.2f} / {fa_mb:.0f}",
                    ],
                    ["baseline GET /static/app.css p50 ms", median(base)],
                ],
            )
            path = write_json(
                "dashboard",
                {
                    "memories": args.memories,
                    "plans": args.plans,
                    "requests": args.requests,
                    "baseline_static_p50_ms": median(base),
                    "pages": results,
                    "first_load_bytes": loads,
                    "server_rss_mb": {"after_fill": rss_before, "after_pages": rss_after},
                    "import": {"almanac.web": [web_s, web_mb], "almanac.deps": [fa_s, fa_mb]},
                },
            )
            print(f"wrote {path}")
        finally:
            proc.terminate()
            proc.wait(60)


if __name__ == "__main__":
    main()
