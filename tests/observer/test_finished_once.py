"""A reflection finds the tasks finished in its period once per read of it: the service
needs them to read the tasks, the report to count them done (it walked every run again)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.observer import report as report_module
from almanac.observer import service as service_module
from almanac.observer.deps import observer_service
from almanac.state import AppState
from tests.observer.conftest import MONDAY, SUNDAY_EVENING, fixture_week


async def test_finished_in_runs_once_per_reflection(
    db_session: AsyncSession, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fixture_week(db_session)
    calls: list[int] = []
    real = report_module.finished_in

    def counted(runs: Sequence[Any], start: datetime, end: datetime) -> list[int]:
        calls.append(len(runs))
        return real(runs, start, end)

    monkeypatch.setattr(report_module, "finished_in", counted)
    monkeypatch.setattr(service_module, "finished_in", counted)
    service = observer_service(UnitOfWork(db_session), state, clock=lambda: SUNDAY_EVENING)
    out = await service.reflect("weekly", MONDAY)
    # Once per read of the period (a reflection reads it again under the owner's data
    # lock, `ObserverService.reflect`), not again inside the report.
    assert len(calls) == 2 and calls[0] == calls[1] > 0, calls
    assert out.report["numbers"]["tasks_done"] >= 1, out.report["numbers"]
