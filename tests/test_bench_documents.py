"""The documents benchmark runs through the real HTTP API in-process: its uploads and
recalls are the owner's, as the CLI's are (API keys made every upload a 401)."""

from __future__ import annotations

from typing import Any

import bench.documents_bench as documents_bench
import pytest

from almanac.state import AppState


async def test_the_documents_benchmark_ingests_and_recalls(
    committed_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def the_test_state(*_: Any) -> AppState:
        return committed_state

    async def kept_open() -> None:  # the suite's engine outlives the run
        return None

    monkeypatch.setattr(documents_bench, "build_state", the_test_state)
    monkeypatch.setattr(committed_state, "close", kept_open)
    result = await documents_bench.run(1, 7)
    files, questions = documents_bench.corpus(1, 7)
    assert result["documents"] == len(files) and result["questions"] == len(questions)
    assert result["chunks"] > 0 and result["pages"] >= len(files)
    assert set(result["recall@5"]["almanac"]) == set(result["recall@5"]["bm25"])
