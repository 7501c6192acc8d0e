"""The runs of each workflow, grouped once (`calibration.by_workflow`) for both the pure
`fit` and the planner's `Estimator.fits`: the same runs give the same fits either way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from almanac.planner.calibration import Run, by_workflow, fit
from almanac.planner.estimates import Estimator
from almanac.planner.params import DEFAULT
from almanac.planner.task_repository import HistoryRow
from tests.planner.test_calibration import runs


def _interleaved() -> list[Run]:
    """Two workflows' runs, newest first as the history is read, interleaved."""
    seven = runs(1.3, weeks=6, noise=0.2, seed=5)
    eight = [replace(r, workflow_id=8) for r in runs(0.8, client=2, weeks=4, noise=0.1, seed=6)]
    mixed = [r for pair in zip(seven, eight, strict=False) for r in pair] + seven[len(eight) :]
    return sorted(mixed, key=lambda r: r.at, reverse=True)


def test_runs_are_grouped_per_workflow_in_their_order() -> None:
    history = _interleaved()
    grouped = by_workflow(history)
    assert list(grouped) == list(dict.fromkeys(r.workflow_id for r in history))
    for wid, rows in grouped.items():
        assert rows == [r for r in history if r.workflow_id == wid]
    assert by_workflow([]) == {}


class _History:
    def __init__(self, rows: Sequence[HistoryRow]) -> None:
        self.rows = list(rows)

    async def run_history(self, workflow_ids: Sequence[int]) -> list[HistoryRow]:
        return [r for r in self.rows if r.workflow_id in workflow_ids]


async def test_the_estimators_fits_are_the_pure_fits_of_the_same_runs() -> None:
    history = _interleaved()
    rows = [
        HistoryRow(
            r.workflow_id,
            r.instance,
            r.task,
            r.library_hours,
            None,
            r.actual_hours,
            r.client_id,
            r.at,
        )
        for r in history
    ]
    estimator = Estimator.__new__(Estimator)
    estimator.tasks = _History(rows)  # type: ignore[assignment]
    estimator.params, estimator.min_runs = DEFAULT, 1
    got = await estimator.fits([7, 8], steps={})
    assert list(got) == list(fit(history, DEFAULT)) == [7, 8]
    assert got == fit(history, DEFAULT)
