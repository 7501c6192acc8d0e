"""Shared by the race tests (here and in tests/calendars): setting plans up, running calls
at the same moment, and `check_calendar`, a check of the whole calendar written from the
rows alone (it does not call the solver's validator)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from almanac.models import CalendarEntry, Plan, SchedulerRun, Task
from almanac.models.status import APPLIED_RUN_STATUSES
from almanac.scheduler.problem import parse_almanac_id
from almanac.state import AppState
from tests.conftest import ok

from .conftest import TZ, make_plan, next_monday

URL = "/api/v1/scheduler"
DAILY_MAX = 5.0


# -- setup -------------------------------------------------------------------------------------


def chain(n: int, hours: float) -> list[dict[str, Any]]:
    return [
        {"key": f"t{i}", "estimate_hours": hours} | ({"depends_on": [f"t{i - 1}"]} if i else {})
        for i in range(n)
    ]


async def plans(state: AppState, *specs: Sequence[dict[str, Any]]) -> list[int]:
    """Approved plans with these tasks, committed."""
    async with state.sessionmaker() as session:
        made = [await make_plan(session, tasks, title=f"P{i}") for i, tasks in enumerate(specs)]
        await session.commit()
        return [int(p.id) for p in made]


async def meeting(state: AppState, start: datetime, end: datetime) -> None:
    async with state.sessionmaker() as session:
        session.add(
            CalendarEntry(uid=f"m-{start.isoformat()}", title="M", start_at=start, end_at=end)
        )
        await session.commit()


def body(plan_id: int, **kw: Any) -> dict[str, Any]:
    start = next_monday().isoformat()
    return {"plan_id": plan_id, "start_date": start, "horizon_days": 5, "dry_run": False, **kw}


async def together(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run the calls at the same moment: each waits at a barrier until all have started."""
    gate = asyncio.Barrier(len(calls))

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        await gate.wait()
        return await call()

    return list(await asyncio.wait_for(asyncio.gather(*(one(c) for c in calls)), 60))


# -- the independent check ---------------------------------------------------------------------


async def check_calendar(
    state: AppState, *, capacity: float | None = None, daily_max: float | None = DAILY_MAX
) -> list[str]:
    """Everything wrong with the calendar as a whole; [] when it holds."""
    async with state.sessionmaker() as session:
        entries = list(await session.scalars(select(CalendarEntry)))
        tasks = {(t.plan_id, t.plan_task_key): t for t in await session.scalars(select(Task))}
        plan_rows = {p.id: p for p in await session.scalars(select(Plan))}
        runs = list(
            await session.scalars(
                select(SchedulerRun)
                .where(SchedulerRun.status.in_(APPLIED_RUN_STATUSES))
                .order_by(SchedulerRun.id)
            )
        )
    current: dict[int, set[tuple[str, datetime, datetime]]] = {}
    for run in runs:  # the last applied run of each plan wins
        current[run.plan_id] = {
            (
                f"plan{run.plan_id}-{b['task_key']}-{b['chunk']}",
                datetime.fromisoformat(b["start"]),
                datetime.fromisoformat(b["end"]),
            )
            for b in run.schedule_blocks
        }
    blocks = [e for e in entries if e.almanac_id]
    busy = [e for e in entries if not e.almanac_id]
    wrong: list[str] = []
    in_calendar = {(e.almanac_id, e.start_at, e.end_at) for e in blocks}
    for pid, want in current.items():
        if plan_rows[pid].status not in ("scheduled", "active"):
            continue
        for aid, s, _ in want - in_calendar:
            wrong.append(f"lost: {aid} {s:%a %H:%M} is in plan {pid}'s run, not the calendar")
    per_day: dict[date, float] = defaultdict(float)
    per_week: dict[date, float] = defaultdict(float)
    per_task: dict[tuple[int, str], float] = defaultdict(float)
    for e in blocks:
        assert e.almanac_id is not None
        parsed = parse_almanac_id(e.almanac_id)
        if parsed is None:
            wrong.append(f"unreadable block id {e.almanac_id}")
            continue
        pid, key, _ = parsed
        if (e.almanac_id, e.start_at, e.end_at) not in current.get(pid, set()):
            wrong.append(f"orphan: {e.almanac_id} {e.start_at:%a %H:%M} is in no current run")
        task = tasks.get((pid, key))
        if task is None:
            wrong.append(f"{e.almanac_id}: no task {key!r} in plan {pid}")
        elif task.status in ("done", "cancelled"):
            wrong.append(f"{e.almanac_id}: task {key!r} is {task.status}")
        hours = (e.end_at - e.start_at).total_seconds() / 3600
        local = e.start_at.astimezone(TZ)
        per_day[local.date()] += hours
        per_week[local.date() - timedelta(days=local.weekday())] += hours
        per_task[(pid, key)] += hours
        for other in [*blocks, *busy]:
            if other is not e and other.start_at < e.end_at and e.start_at < other.end_at:
                if other.almanac_id is None or other.almanac_id > e.almanac_id:
                    wrong.append(f"overlap: {e.almanac_id} and {other.almanac_id or other.title}")
    if daily_max is not None:
        wrong += [
            f"{d}: {h:g} h > {daily_max:g} h a day"
            for d, h in per_day.items()
            if h > daily_max + 1e-9
        ]
    if capacity is not None:
        wrong += [
            f"week {w}: {h:g} h > {capacity:g} h"
            for w, h in per_week.items()
            if h > capacity + 1e-9
        ]
    for (pid, key), hours in per_task.items():
        estimate = tasks[(pid, key)].estimate_hours if (pid, key) in tasks else None
        if estimate is not None and hours > estimate + 1e-9:
            wrong.append(f"plan {pid} task {key}: {hours:g} h of blocks > {estimate:g} h")
    return wrong


async def schedule(api: httpx.AsyncClient, plan_id: int, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = await ok(await api.post(f"{URL}/schedule", json=body(plan_id, **kw)))
    return out


async def current_blocks(state: AppState, plan_id: int) -> list[dict[str, Any]]:
    """The blocks of the plan's current (last applied) run."""
    async with state.sessionmaker() as session:
        run = await session.scalar(
            select(SchedulerRun)
            .where(SchedulerRun.plan_id == plan_id, SchedulerRun.status.in_(APPLIED_RUN_STATUSES))
            .order_by(SchedulerRun.id.desc())
            .limit(1)
        )
        return list(run.schedule_blocks) if run is not None else []


async def runs_of(state: AppState, plan_id: int) -> list[tuple[int, str]]:
    async with state.sessionmaker() as session:
        rows = await session.execute(
            select(SchedulerRun.id, SchedulerRun.status)
            .where(SchedulerRun.plan_id == plan_id)
            .order_by(SchedulerRun.id)
        )
        return [(int(i), str(s)) for i, s in rows]


async def meeting_on(state: AppState, plan_id: int) -> None:
    """A one-hour meeting on top of the plan's first block."""
    first = min(await current_blocks(state, plan_id), key=lambda b: b["start"])
    start = datetime.fromisoformat(first["start"])
    await meeting(state, start, start + timedelta(hours=1))
