"""The cost of authentication on a cached recall, over loopback HTTP.

Usage: .venv/bin/python bench/auth_bench.py [--requests 2000]

One server process (embedded Postgres in a fresh data folder, in-process cache) serves the
same app four ways on four loopback ports, sharing one state:

- `bare`: no authentication and no browser-safety middleware (the baseline);
- `browser`: the Host/Origin/content-type/body-limit middleware only;
- `key`: everything (middleware, key check from the per-process cache, rate limit, usage);
- `key, no cache`: as `key` but every request looks the key up in Postgres
  (`key_cache_seconds = 0`), the cost of a cache miss.

The client sends the same cached recall to each variant in turn (interleaved, so drift
hits all alike) and reports p50/p95, the difference of p50s to `bare` and the median of
the per-round differences (the headline figure; robust to load from other processes).
Target: the `key` row adds under 1 ms at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median, percentile, print_table, write_json  # noqa: E402

VARIANTS = ("bare", "browser", "key", "key, no cache")
QUERY = {"query": "invoice Acme first of the month", "k": "5"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _constant(value: Any) -> Any:
    """A dependency returning `value` (a default argument would become a query parameter)."""

    def get() -> Any:
        return value

    return get


async def serve(data_dir: Path) -> None:
    """The server side: build one state, serve the four variants, print their ports."""
    import uvicorn

    from almanac.app import create_app
    from almanac.auth.bootstrap import ensure_first_key
    from almanac.auth.browser import BrowserSafety
    from almanac.auth.deps import authenticate
    from almanac.cli.runtime import LOCAL_OWNER, LocalImport
    from almanac.config import Settings
    from almanac.deps import get_state
    from almanac.memory.schemas import RememberIn
    from almanac.state import build_state

    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    settings.security.rate_limit = "10000000/minute"  # counted, never reached
    state = await build_state(settings)
    state.services = ["memory"]
    await ensure_first_key(state)
    texts = ("Invoice Acme on the first of the month", "Acme prefers email", "Gym at 7")
    await LocalImport(state).remember_batch([RememberIn(content=t) for t in texts])
    uncached = dataclasses.replace(
        state,
        settings=settings.model_copy(
            update={"security": settings.security.model_copy(update={"key_cache_seconds": 0})}
        ),
        auth=None,
    )

    servers = []
    ports = {}
    for variant in VARIANTS:
        current = uncached if variant == "key, no cache" else state
        app = create_app(state=current, services=["memory"])
        app.dependency_overrides[get_state] = _constant(current)
        if variant in ("bare", "browser"):
            app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
        if variant == "bare":
            app.user_middleware = [m for m in app.user_middleware if m.cls is not BrowserSafety]
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        servers.append(uvicorn.Server(config))
        ports[variant] = port
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    while not all(s.started for s in servers):
        await asyncio.sleep(0.05)
    print(json.dumps(ports), flush=True)
    try:
        await asyncio.gather(*tasks)
    finally:
        await state.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(Path(args.serve)))
        return

    tmp = tempfile.TemporaryDirectory(prefix="almanac-auth-bench-")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", tmp.name],
        stdout=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")},
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("server did not start")
        ports: dict[str, int] = json.loads(line)
        key = (Path(tmp.name) / "api-key").read_text().strip()
        clients = {
            v: httpx.Client(
                base_url=f"http://127.0.0.1:{p}",
                headers={"Authorization": f"Bearer {key}"} if v.startswith("key") else {},
            )
            for v, p in ports.items()
        }
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for c in clients.values():  # warm up: connections, the recall cache, the key cache
            for _ in range(50):
                c.get("/api/v1/memory/recall", params=QUERY).raise_for_status()
        for _ in range(args.requests):
            for variant, c in clients.items():
                t = time.perf_counter()
                r = c.get("/api/v1/memory/recall", params=QUERY)
                times[variant].append((time.perf_counter() - t) * 1000)
                if r.status_code != 200 or not r.json()["cached"]:
                    raise SystemExit(f"{variant}: {r.status_code} {r.text[:200]}")
        # Sanity: the key variants really refuse a request without the key.
        assert (
            httpx.get(
                f"http://127.0.0.1:{ports['key']}/api/v1/memory/recall", params=QUERY
            ).status_code
            == 401
        )
    finally:
        proc.terminate()
        proc.wait(60)
        tmp.cleanup()

    base = median(times["bare"])
    rows = []
    out: dict[str, Any] = {"requests_per_variant": args.requests, "variants": {}}
    for variant in VARIANTS:
        p50, p95 = median(times[variant]), percentile(times[variant], 95)
        # Each round sends one request per variant back to back: the median of the paired
        # differences cancels the load drift of a shared machine better than p50 - p50.
        paired = median([t - b for t, b in zip(times[variant], times["bare"], strict=True)])
        rows.append((variant, p50, p95, p50 - base, paired, p50 / base))
        out["variants"][variant] = {
            "p50_ms": round(p50, 4),
            "p95_ms": round(p95, 4),
            "added_p50_ms": round(p50 - base, 4),
            "added_paired_median_ms": round(paired, 4),
            "ratio_to_bare": round(p50 / base, 4),
        }
    out["auth_added_p50_ms"] = out["variants"]["key"]["added_paired_median_ms"]
    out["target_met"] = out["auth_added_p50_ms"] < 1.0
    print_table(
        f"cached recall over loopback HTTP, {args.requests} requests per variant (ms)",
        ["variant", "p50", "p95", "p50 - bare p50", "median paired diff", "ratio p50"],
        rows,
    )
    path = write_json("auth_bench", out)
    print(f"authentication adds {out['auth_added_p50_ms']:.3f} ms at p50 (target < 1 ms)")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
