"""The scheduler API over HTTP inside the test's transaction, with the built-in calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.cache import Cache
from almanac.config import SchedulerSettings, Settings
from almanac.db.engine import create_sessionmaker
from almanac.embedder import Embedder
from almanac.memory.schemas import FactOut, FactsQuery
from almanac.models import CalendarEntry, Plan, SchedulerRun, Task
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client

TZ_NAME = "Europe/Berlin"
TZ = ZoneInfo(TZ_NAME)


class FakeMemory:
    """Preference facts served without the Gateway (its own transaction would not see ours)."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {"preference": [], "constraint": []}
        self.fail = False

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        from almanac.errors import DependencyUnavailable

        if self.fail:
            raise DependencyUnavailable("gateway down")
        now = datetime.now(UTC)
        kind = query.fact_type or "preference"
        return [
            FactOut(
                id=n + 1,
                subject_type="user",
                subject_id="me",
                fact_type=kind,
                content=text,
                salience_score=0.8,
                category=None,
                client_id=None,
                valid_from=now - timedelta(days=30) + timedelta(minutes=n),
                valid_to=None,
                created_at=now,
                metadata={},
                supersedes_id=None,
                source_event_id=None,
                current=True,
            )
            for n, text in enumerate(self.texts.get(kind, []))
        ]

    async def close(self) -> None:
        """Nothing to release."""


def next_monday(weeks: int = 1) -> date:
    """A Monday safely in the future, so `now` never cuts into the horizon."""
    today = datetime.now(TZ).date()
    return today + timedelta(days=7 * weeks - today.weekday())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


@pytest.fixture
def memory() -> FakeMemory:
    return FakeMemory()


@pytest.fixture
def sched_state(
    tmp_root: Any, engine: AsyncEngine, embedder: Embedder, cache: Cache, memory: FakeMemory
) -> AppState:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_root / "data",
        timezone=TZ_NAME,
        scheduler=SchedulerSettings(time_limit_seconds=2.0),
        _env_file=None,
    )
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cache=cache,
        embedder=embedder,
        memory=memory,  # type: ignore[arg-type]
        services=["memory", "planner"],
    )


@pytest.fixture
async def sched_client(
    sched_state: AppState, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """The full app with every request in the test's transaction."""
    async with http_client(app_in_transaction(sched_state, db_session)) as c:
        yield c


async def make_plan(
    session: AsyncSession,
    tasks: Sequence[dict[str, Any]],
    *,
    status: str = "approved",
    title: str = "Website relaunch",
) -> Plan:
    """A plan row plus its task rows, as approval would create them."""
    plan = Plan(plan_title=title, intent="test", sop={"tasks": []}, status=status)
    session.add(plan)
    await session.flush()
    for spec in tasks:
        row = {"title": spec["key"].title(), "estimate_hours": 1.0, "priority": 2, **spec}
        key = row.pop("key")
        session.add(Task(plan_id=plan.id, plan_task_key=key, status="todo", **row))
    await session.flush()
    return plan


async def add_meeting(session: AsyncSession, start: datetime, end: datetime, title: str) -> str:
    uid = f"meeting-{start.isoformat()}-{title}"
    session.add(CalendarEntry(uid=uid, title=title, start_at=start, end_at=end))
    await session.flush()
    return uid


async def almanac_entries(session: AsyncSession) -> list[CalendarEntry]:
    rows = await session.scalars(
        select(CalendarEntry)
        .where(CalendarEntry.almanac_id.is_not(None))
        .order_by(CalendarEntry.start_at)
    )
    return list(rows)


async def run_count(session: AsyncSession, plan_id: int) -> int:
    n = await session.scalar(
        select(func.count()).select_from(SchedulerRun).where(SchedulerRun.plan_id == plan_id)
    )
    return int(n or 0)


def overlaps(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> bool:
    return a0 < b1 and b0 < a1


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)
