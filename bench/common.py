"""Shared helpers for the benchmarks: data loading, statistics, the output table and JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SHARED_BENCH = Path(os.environ.get("ALMANAC_BENCH_DATA", ROOT.parent / "shared" / "bench"))


def require_files(parser: argparse.ArgumentParser, paths: Sequence[Path]) -> None:
    """A missing LoCoMo file is a usage error naming where it was looked for, not a
    traceback (a worktree's `../shared/bench` is not the main checkout's)."""
    for path in paths:
        if not path.is_file():
            parser.error(
                f"--data {path}: no such file; pass --data FILE, or set ALMANAC_BENCH_DATA "
                "to the folder that holds locomo-dev/26.json"
            )


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), the usual choice for latency."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], min_width: int = 120
) -> None:
    """Print a table, at least `min_width` wide so piped output is not squeezed."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    Console(width=max(min_width, Console().width)).print(table)


def result_name(name: str, assets: Path | None) -> str:
    """`name`, or for a run on a candidate embedder folder `name-<folder>`, so a candidate's
    run never overwrites the default's results."""
    if assets is None:
        return name
    folder = re.sub(r"[^A-Za-z0-9._-]+", "-", assets.resolve().name).strip(".-")
    return f"{name}-{folder or 'assets'}"


def write_json(name: str, payload: dict[str, Any], path: Path | None = None) -> Path:
    """Write `payload` as benchmark `name`'s result: to `path` as given (an `--out`), else
    to bench/results/<name>.json."""
    if path is None:
        path = RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        **payload,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path
