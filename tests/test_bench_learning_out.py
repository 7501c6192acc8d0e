"""`bench/learning_loop.py --out X` writes its result to X as given: it wrote
bench/results/X.json, so `--out run.json` gave `run.json.json` and `--out /tmp/run.json`
`/tmp/run.json.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import common  # noqa: E402
import learning_loop  # noqa: E402


async def _no_run(*_: Any) -> dict[str, list[dict[str, Any]]]:
    return {}


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(learning_loop, "run", _no_run)
    monkeypatch.setattr(learning_loop, "report", lambda *_: {"gain": "met"})
    return tmp_path / "results"


def test_out_is_the_file_written(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "runs" / "noisy.json"
    monkeypatch.setattr(sys, "argv", ["learning_loop", "--backend", "direct", "--out", str(out)])
    learning_loop.main()
    assert json.loads(out.read_text())["verdicts"] == {"gain": "met"}
    assert not list(tmp_path.rglob("*.json.json"))
    assert not results.exists()  # the default result stays as it was


def test_without_out_the_result_goes_to_bench_results(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["learning_loop", "--backend", "direct"])
    learning_loop.main()
    assert json.loads((results / "learning_loop.json").read_text())["benchmark"] == "learning_loop"
