"""Memory footprint at rest: `almanac serve`, `serve memory`, the worker, embedded Postgres.

Usage: .venv/bin/python bench/footprint.py [--before-src DIR] [--requests 50]

Each configuration starts on a fresh data folder (embedded Postgres) and a free port,
waits for /health, then measures RSS of the Almanac process at rest, again after
`--requests` remember + recall calls (warm: the embedder and the search path loaded),
and the embedded Postgres as the sum of its processes' PSS (shared memory counted once).
`almanac worker` runs beside a `serve memory` on the same folder. `--before-src` repeats
`serve` with another checkout's `src/` (e.g. the commit before lazy imports) as the
baseline in the same run. The peak during the 100,000-memory load is bench/memory_load.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_json  # noqa: E402
from rss import postgres_pss  # noqa: E402

PY = sys.executable
MB = 1024 * 1024
TARGET_SYSTEM_AT_REST_MB = 250


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], url: str | None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if url is None:
        time.sleep(8)
        return proc
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{cmd} exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=3).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"{cmd} did not become healthy")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _rss(proc: subprocess.Popen[bytes]) -> float:
    return float(psutil.Process(proc.pid).memory_info().rss) / MB


def _traffic(url: str, n: int, data: Path) -> None:
    headers = {"X-API-Key": (data / "api-key").read_text().strip()}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(n):
            client.post("/api/v1/memory/remember", json={"content": f"Footprint note {i}"})
            client.get("/api/v1/memory/recall", params={"query": f"note {i}"}).raise_for_status()


def measure(name: str, service: str, env: dict[str, str], requests: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="almanac-footprint-"))
    data = tmp / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "ALMANAC_DATA_DIR": str(data)}
    cmd = [PY, "-m", "almanac", "serve"] + ([] if service == "all" else [service])
    server = _start(cmd + ["--port", str(port)], env, url)
    worker = None
    try:
        time.sleep(3)  # let start-up work (library load, index checks) settle
        rest = _rss(server)
        pg_rest = postgres_pss(data)
        _traffic(url, requests, data)
        warm = _rss(server)
        out: dict[str, Any] = {
            "server_rest_mb": rest,
            "server_warm_mb": warm,
            "postgres_rest_pss_mb": pg_rest,
            "postgres_warm_pss_mb": postgres_pss(data),
            "system_rest_mb": rest + pg_rest,
        }
        if service == "memory":
            worker = _start([PY, "-m", "almanac", "worker"], env, None)
            out["worker_rest_mb"] = _rss(worker)
        return out
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-src", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    runs: dict[str, dict[str, Any]] = {}
    runs["serve"] = measure("serve", "all", env, args.requests)
    runs["serve memory (+ worker)"] = measure("memory", "memory", env, args.requests)
    if args.before_src:
        before = {**env, "PYTHONPATH": str(args.before_src.resolve())}
        runs["before: serve"] = measure("before", "all", before, args.requests)
    rows = []
    for name, r in runs.items():
        rows.append(
            [
                name,
                r["server_rest_mb"],
                r["server_warm_mb"],
                r["postgres_rest_pss_mb"],
                r["system_rest_mb"],
                r.get("worker_rest_mb", ""),
            ]
        )
    print_table(
        f"footprint in MB (target: server + Postgres < {TARGET_SYSTEM_AT_REST_MB} MB at rest)",
        [
            "config",
            "server rest",
            f"server after {args.requests} req",
            "postgres PSS",
            "system rest",
            "worker rest",
        ],
        rows,
    )
    path = write_json(
        "footprint",
        {"requests": args.requests, "target_system_rest_mb": TARGET_SYSTEM_AT_REST_MB, **runs},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
