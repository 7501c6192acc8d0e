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
from almanac.config import SchedulerSettings, ServerSettings, Settings
from almanac.db.engine import create_sessionmaker
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.port import memory_port
from almanac.memory.schemas import FactIn
from almanac.models import CalendarEntry, Plan, SchedulerRun, Task
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client
from tests.live_server import (  # noqa: F401 (a real server for the concurrency tests)
    live_server,
    live_server_process,
)

TZ_NAME = "Europe/Berlin"
TZ = ZoneInfo(TZ_NAME)


class Memories:
    """Preference and constraint facts, written through the real in-process memory port
    into the test's transaction (the requests share it, so they read them back)."""

    def __init__(self, session: AsyncSession, state: AppState) -> None:
        self.port = memory_port(UnitOfWork(session), state)
        self.state = state
        self.written = 0

    async def add(self, kind: str, *texts: str) -> list[int]:
        """Store `texts` as the user's facts of `kind`, oldest first; their ids."""
        ids = []
        for text in texts:
            self.written += 1
            when = datetime.now(UTC) - timedelta(days=30) + timedelta(minutes=self.written)
            fact = FactIn(
                subject_type="user",
                subject_id="me",
                fact_type=kind,  # type: ignore[arg-type]
                content=text,
                salience_score=0.8,
                valid_from=when,
            )
            ids.append((await self.port.write_fact(fact)).fact.id)
        return ids

    def gateway_down(self) -> None:
        """Make the Memory Gateway a separate process that does not answer."""
        self.state.settings = self.state.settings.model_copy(
            update={"server": ServerSettings(memory_gateway_url="http://127.0.0.1:9")}
        )


def next_monday(weeks: int = 1) -> date:
    """A Monday safely in the future, so `now` never cuts into the horizon."""
    today = datetime.now(TZ).date()
    return today + timedelta(days=7 * weeks - today.weekday())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


@pytest.fixture
def memory(db_session: AsyncSession, sched_state: AppState) -> Memories:
    return Memories(db_session, sched_state)


@pytest.fixture
async def sched_state(
    tmp_root: Any, engine: AsyncEngine, embedder: Embedder, cache: Cache
) -> AsyncIterator[AppState]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_root / "data",
        timezone=TZ_NAME,
        scheduler=SchedulerSettings(time_limit_seconds=2.0),
        _env_file=None,
    )
    state = AppState(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cache=cache,
        embedder=embedder,
        services=["memory", "planner"],
    )
    yield state
    if state.memory is not None:  # the HTTP client of a Gateway made unreachable
        await state.memory.close()


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


async def latest_run(session: AsyncSession, plan_id: int) -> SchedulerRun:
    """The plan's newest scheduler run (a test edits it into a state older code left)."""
    stmt = select(SchedulerRun).where(SchedulerRun.plan_id == plan_id)
    return (await session.scalars(stmt.order_by(SchedulerRun.id.desc()).limit(1))).one()
