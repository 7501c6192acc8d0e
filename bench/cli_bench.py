"""How fast the CLI answers, as a user types it: wall time and peak RSS per command.

Usage: .venv/bin/python bench/cli_bench.py [--runs 7] [--before-src DIR]

Starts `almanac serve` on a free port with a fresh data folder, remembers a few memories,
then runs, interleaved so machine load hits every command alike: `python3 -c pass` (the
baseline), `almanac --help`, `almanac recall "deep work"` and `almanac remember …` against
the server. Reports medians, ratios to the baseline and peak RSS (ru_maxrss of the child).
`--before-src` also runs the same commands from another checkout's `src/` (for example the
commit before the lazy CLI), with this venv's interpreter.
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

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median, print_table, write_json  # noqa: E402

PY = sys.executable
TIME = shutil.which("time", path="/usr/bin:/bin")
TARGETS = {"--help": 0.4, "recall": 0.6}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(cmd: list[str], env: dict[str, str], rss_file: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one run.

    The peak comes from GNU time when installed: a child forked from this (large) process
    would otherwise report this process's RSS as its own peak.
    """
    wrapper = [TIME, "-f", "%M", "-o", str(rss_file)] if TIME else []
    start = time.perf_counter()
    proc = subprocess.Popen(
        wrapper + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        if code != 0:
            sys.stderr.write(proc.stderr.read().decode()[-2000:])
        proc.stderr.close()
    peak_kb = usage.ru_maxrss
    if TIME:
        lines = rss_file.read_text().split()
        peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else peak_kb
    return elapsed, peak_kb / 1024, code


def start_server(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [PY, "-m", "almanac", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise SystemExit("server did not start")
    for text in ("Deep work before noon", "Invoice Acme monthly", "Deep work blocks on Friday"):
        httpx.post(url + "/api/v1/memory/remember", json={"content": text}, timeout=60)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before-src", type=Path, default=None)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="almanac-cli-bench-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(
        ALMANAC_DATA_DIR=str(tmp / "data"),
        # The commit before discovery found the server by port only.
        ALMANAC_SERVER__PORT=str(port),
        ALMANAC_SERVER__MEMORY_PORT=str(port),
    )
    server = start_server(tmp / "data", port, env)
    python3 = shutil.which("python3") or PY
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "after": ([PY, "-m", "almanac"], env),
    }
    if args.before_src:
        before_env = {**env, "PYTHONPATH": str(args.before_src.resolve())}
        variants["before"] = ([PY, "-m", "almanac"], before_env)
    commands: dict[str, list[str]] = {
        "--help": ["--help"],
        "recall": ["recall", "deep work"],
        "remember": ["remember", "Bench note"],
    }
    samples: dict[str, list[tuple[float, float]]] = {"python3 -c pass": []}
    try:
        for _ in range(args.runs):
            secs, rss, _code = timed([python3, "-c", "pass"], env, tmp / "rss")
            samples["python3 -c pass"].append((secs, rss))
            for variant, (prefix, venv) in variants.items():
                for name, argv in commands.items():
                    secs, rss, code = timed(prefix + argv, venv, tmp / "rss")
                    if code != 0:
                        raise SystemExit(f"{variant} {name} exited with {code}")
                    samples.setdefault(f"{variant}: almanac {name}", []).append((secs, rss))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)

    base = median([s for s, _ in samples["python3 -c pass"]])
    rows, results = [], {}
    for name, values in samples.items():
        secs = median([s for s, _ in values])
        rss = max(r for _, r in values)
        command = name.split("almanac ")[-1]
        target = TARGETS.get(command) if name.startswith("after") else None
        verdict = "" if target is None else ("met" if secs < target else "missed")
        rows.append([name, secs, secs / base, rss, f"< {target} s {verdict}" if target else ""])
        results[name] = {
            "median_s": secs,
            "ratio_to_baseline": secs / base,
            "peak_rss_mb": rss,
            "runs": [s for s, _ in values],
            "target_s": target,
        }
    print_table(
        f"CLI wall time, median of {args.runs} (interleaved)",
        ["command", "median s", "× python3 -c pass", "peak RSS MB", "target"],
        rows,
    )
    path = write_json("cli_bench", {"runs": args.runs, "baseline_s": base, "commands": results})
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
