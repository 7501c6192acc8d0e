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
VENV_PASS = "python -c pass (this venv, no shim)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Sample = tuple[float, float, float]  # wall seconds, CPU seconds (user + system), peak RSS MB


def timed(cmd: list[str], env: dict[str, str], rss_file: Path) -> tuple[Sample, int]:
    """((wall seconds, CPU seconds, peak RSS in MB), exit code) of one run.

    CPU time is the command's own work: on a shared machine the wall time also counts the
    time it waited for a core.

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
    cpu = usage.ru_utime + usage.ru_stime
    return (elapsed, cpu, peak_kb / 1024), code


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
    headers = {"X-API-Key": (data_dir / "api-key").read_text().strip()}
    for text in ("Deep work before noon", "Invoice Acme monthly", "Deep work blocks on Friday"):
        answer = httpx.post(
            url + "/api/v1/memory/remember", json={"content": text}, headers=headers, timeout=60
        )
        answer.raise_for_status()
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
    # The console script a user types (it imports what `python -m almanac` does).
    script = Path(PY).with_name("almanac")
    almanac = [str(script)] if script.exists() else [PY, "-m", "almanac"]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {"after": (almanac, env)}
    if args.before_src:
        before_env = {**env, "PYTHONPATH": str(args.before_src.resolve())}
        variants["before"] = ([PY, "-m", "almanac"], before_env)
    commands: dict[str, list[str]] = {
        "--help": ["--help"],
        "recall": ["recall", "deep work"],
        "remember": ["remember", "Bench note"],
    }
    samples: dict[str, list[Sample]] = {"python3 -c pass": [], VENV_PASS: []}
    try:
        for _ in range(args.runs):
            sample, _code = timed([python3, "-c", "pass"], env, tmp / "rss")
            samples["python3 -c pass"].append(sample)
            # `python3` on PATH may be a shim (pyenv): the bare interpreter, for reference.
            sample, _code = timed([PY, "-c", "pass"], env, tmp / "rss")
            samples[VENV_PASS].append(sample)
            for variant, (prefix, venv) in variants.items():
                for name, argv in commands.items():
                    sample, code = timed(prefix + argv, venv, tmp / "rss")
                    if code != 0:
                        raise SystemExit(f"{variant} {name} exited with {code}")
                    samples.setdefault(f"{variant}: almanac {name}", []).append(sample)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)

    base = median([s[0] for s in samples["python3 -c pass"]])
    base_cpu = median([s[1] for s in samples["python3 -c pass"]])
    rows, results = [], {}
    for name, values in samples.items():
        secs = median([s[0] for s in values])
        cpu = median([s[1] for s in values])
        rss = max(s[2] for s in values)
        command = name.split("almanac ")[-1]
        target = TARGETS.get(command) if name.startswith("after") else None
        verdict = "" if target is None else ("met" if secs < target else "missed")
        rows.append(
            [name, secs, secs / base, cpu, rss, f"< {target} s {verdict}" if target else ""]
        )
        results[name] = {
            "median_s": secs,
            "ratio_to_baseline": secs / base,
            "median_cpu_s": cpu,
            "peak_rss_mb": rss,
            "runs": [s[0] for s in values],
            "cpu_runs": [s[1] for s in values],
            "target_s": target,
        }
    load = os.getloadavg()[0]
    print_table(
        f"CLI wall time, median of {args.runs} (interleaved; load average {load:.1f})",
        ["command", "median s", "× python3 -c pass", "CPU s", "peak RSS MB", "target"],
        rows,
    )
    summary = {"runs": args.runs, "baseline_s": base, "baseline_cpu_s": base_cpu}
    path = write_json("cli_bench", {**summary, "load_average": load, "commands": results})
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
