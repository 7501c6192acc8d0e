"""The recall benchmarks' shared run (`memory_recall.compare`): each variant asked each
question in turn, routed by the script's `use`, and scored with the baselines beside it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench.recall_context as recall_context
import bench.recall_expansion as recall_expansion
import numpy as np
import pytest

# The scripts import it as their folder's module (as run), not as `bench.memory_recall`.
memory_recall = sys.modules["memory_recall"]
Question, Turn = memory_recall.Question, memory_recall.Turn

_AT = datetime(2026, 1, 5, tzinfo=UTC)
TURNS = [Turn("D1:1", "alice plays the violin", _AT), Turn("D1:2", "bob likes chess", _AT)]
QUESTIONS = [Question("who plays violin", {"D1:1"}, 1), Question("who likes chess", {"D1:2"}, 4)]


class _Embedder:
    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0] if "violin" in t else [0.0, 1.0] for t in texts])


class _State:
    settings = None
    embedder = _Embedder()
    closed = False

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    state = _State()

    async def open_state(*_: Any) -> _State:
        return state

    async def ingest(*_: Any) -> tuple[str, float]:
        seen.append("ingest")
        return "s", 0.0

    async def ask(_s: Any, _t: Any, _c: Any, _sess: str, text: str, k: int) -> Any:
        seen.append(("ask", text, k))
        found = [t.dia_id for t in TURNS if set(text.split()[-1:]) & set(t.text.split())]
        return found, 1.0

    monkeypatch.setattr(memory_recall, "load", lambda _: ("26", TURNS, QUESTIONS))
    monkeypatch.setattr(memory_recall, "open_state", open_state)
    monkeypatch.setattr(memory_recall, "ingest", ingest)
    monkeypatch.setattr(memory_recall, "ask", ask)
    seen.append(state)
    return seen


async def test_variants_are_asked_in_turn_and_scored_beside_the_baselines(
    calls: list[Any],
) -> None:
    state = calls.pop(0)

    async def prepare(s: Any, turns: list[Any]) -> None:
        calls.append(("prepare", s is state and turns == TURNS))

    out = await memory_recall.compare(
        Path("26.json"), ["a", "b"], lambda name: calls.append(("use", name)), prepare, 10
    )
    asks = [("use", n) for q in QUESTIONS for n in ("a", "b")]
    assert calls[:2] == ["ingest", ("prepare", True)]
    assert [c for c in calls if c[0] == "use"] == [*asks, ("use", None)]
    assert [c[1] for c in calls if c[0] == "ask"] == [q.text for q in QUESTIONS for _ in "ab"]
    assert state.closed
    assert set(out["scores"]) == {"a", "b", "bm25", "vector"}
    assert set(out["took"]) == {"a", "b"} and out["conversation"] == "26"
    assert out["scores"]["vector"]["overall"]["recall@10"] == 1.0


@pytest.mark.parametrize("module", [recall_context, recall_expansion])
async def test_both_scripts_run_through_the_shared_run(
    module: Any, calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls.pop(0)
    if module is recall_expansion:  # its token table, built once the memories are in
        monkeypatch.setattr(module, "_vocab", None)  # restored after
        monkeypatch.setattr(module, "Vocabulary", lambda _: type("V", (), {"words": ["w"]})())
    out = await module.run(Path("26.json"), ["almanac"])
    assert set(out["scores"]) == {"almanac", "bm25", "vector"}
    assert module._current is None  # recall routed back after the last question
    if module is recall_expansion:
        assert out["vocabulary"]["words"] == 1 and out["vocabulary"]["built_ms"] >= 0
