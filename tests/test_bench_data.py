"""A recall benchmark started without its LoCoMo file (README: `make bench-memory` from a
worktree, or `ALMANAC_BENCH_DATA` pointing elsewhere) stops with a usage error naming
the file and how to give it, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import bench.memory_recall as memory_recall
import bench.recall_context as recall_context
import bench.recall_expansion as recall_expansion
import bench.recall_floor as recall_floor
import bench.recall_lists as recall_lists
import bench.recall_reduction as recall_reduction
import bench.recall_replay as recall_replay
import pytest


@pytest.mark.parametrize(
    "main",
    [
        memory_recall.main,
        recall_floor.main,
        recall_replay.main,
        recall_context.main,
        recall_expansion.main,
        recall_reduction.main,
        recall_lists.main,
    ],
    ids=lambda f: f.__module__,
)
def test_missing_data_file_is_a_usage_error(
    main: Callable[[], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "locomo-dev" / "26.json"
    monkeypatch.setattr(sys, "argv", ["bench", "--data", str(missing)])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "ALMANAC_BENCH_DATA" in err
