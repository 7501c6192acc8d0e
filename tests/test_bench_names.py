"""A run of the recall benchmarks on a candidate embedder folder (`--embedder-assets`)
writes its own result file, named after the folder: the default's results stay."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import bench.memory_recall as memory_recall
import bench.recall_floor as recall_floor
import pytest


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sys.modules["common"], "RESULTS", tmp_path)
    return tmp_path


async def _recall_result(*_: Any) -> dict[str, Any]:
    return {
        "systems": {"almanac": {}},
        "conversation": "26",
        "turns": 0,
        "questions": 0,
        "recall_latency_ms": {},
    }


async def _floor_result(*_: Any) -> list[dict[str, Any]]:
    return []


@pytest.mark.parametrize(
    ("module", "name"), [(memory_recall, "memory_recall"), (recall_floor, "recall_floor")]
)
def test_a_candidate_embedders_run_keeps_the_default_results(
    module: Any, name: str, results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if module is memory_recall:
        monkeypatch.setattr(module, "run", _recall_result)
    else:
        monkeypatch.setattr(module, "main_async", _floor_result)
    default = results / f"{name}.json"
    default.write_text("{}")
    data = results / "26.json"  # the run is replaced; the file need only exist
    data.write_text("{}")
    argv = [name, "--data", str(data)]
    monkeypatch.setattr(sys, "argv", [*argv, "--embedder-assets", "/models/cand e5 (int8)"])
    module.main()
    assert default.read_text() == "{}"  # untouched
    assert (results / f"{name}-cand-e5-int8.json").exists()
    monkeypatch.setattr(sys, "argv", argv)
    module.main()
    assert default.read_text() != "{}"  # the default run writes the default file
