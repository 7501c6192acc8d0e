"""The preference rules' cost on hostile facts at the 2,000-character cap, paired with a
baseline checkout in the same run.

Usage: .venv/bin/python bench/preference_parse.py [--baseline SRC] [--runs 5]

Each unit ("sat, ", "sun/", ...) is repeated up to the rules' cap and read by
`parse_preferences`, `--runs` times in a fresh interpreter per source tree, alternating
between this tree's `src` and `--baseline` (another checkout's `src`, e.g. one exported
with `git archive main src | tar -x -C /tmp/base`). It prints each unit's median seconds
and, with a baseline, the ratio baseline/this.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

UNITS = [
    "sat, ",
    "sat & ",
    "sun/",
    "sat and ",
    "mon, ",
    "mon. ",
    "Sat. and Sun. ",
    "sat to ",
    "no work on sat, sun, ",
    "Fridays, ",
    "meetings stop at 5 ",
    "sat morning ",
]
_CODE = """
import json, sys, time
from almanac.scheduler.preferences import PREFERENCE_MAX_CHARS, parse_preferences
parse_preferences(["No work before 10"])  # the first call's own set-up is not the unit's
out = {}
for unit in json.loads(sys.argv[1]):
    text = (unit * (PREFERENCE_MAX_CHARS // len(unit) + 1))[:PREFERENCE_MAX_CHARS]
    t = time.perf_counter()
    parse_preferences([text], workdays=range(7))
    out[unit] = time.perf_counter() - t
print(json.dumps(out))
"""


def _once(src: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CODE, json.dumps(UNITS)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    times: dict[str, dict[str, list[float]]] = {k: {u: [] for u in UNITS} for k in trees}
    for _ in range(args.runs):
        for name, src in trees.items():
            for unit, took in _once(src).items():
                times[name][unit].append(took)
    print(f"{'unit':<24}" + "".join(f"{name:>12}" for name in trees) + "   ratio")
    for unit in UNITS:
        med = {name: statistics.median(times[name][unit]) for name in trees}
        ratio = f"{med['baseline'] / med['this']:8.1f}x" if "baseline" in med else ""
        print(f"{unit!r:<24}" + "".join(f"{m:12.4f}" for m in med.values()) + ratio)


if __name__ == "__main__":
    main()
