"""The scheduler through its HTTP API on a real (embedded or configured) Postgres.

Per instance: plans of several clients (rows inserted as approval would create them), meetings
and sprints through the API; every plan is previewed, then that preview applied by `run_id`;
the calendar afterwards is compared with what the preview showed (differences must be 0) and
checked independently (overlaps, daily maximum, sprint capacity, working hours, across plans).
Then three one-hour meetings land on placed blocks and a replan runs: the share of all blocks
that moved. Bad input (draft, cancelled, unknown plan, past window, bad horizon) must be 4xx
and write nothing; an instance with no working time must be a 200 listing every task.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sched_instances as inst
from sqlalchemy import func, select, update

from almanac.config import NoLLMSettings, Settings
from almanac.models import CalendarEntry, Plan, SchedulerRun, Task

S = "/api/v1/scheduler"
DAILY_MAX = 7.0
CAPACITY = 30.0
# Two weeks of several clients' work, the size of the outside harness's instances (issue 15:
# 847 tasks in 18 instances, about 47 each, 5.4 plans): three meetings on a calendar of 34
# blocks hit 9% of it before anything else moves, on one of ~70 blocks about 5%.
API_TASKS = 48
# Mondays in the future whose two weeks hold a clock change in the zone.
FUTURE_DST = {"Europe/Berlin": date(2027, 3, 22), "America/New_York": date(2027, 10, 25)}


async def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}")
    return r.json()


async def _blocks(client: httpx.AsyncClient, start: date, days: int) -> dict[tuple, str]:
    view = await _ok(
        await client.get(
            f"{S}/calendar",
            params={"start_date": str(start), "end_date": str(start + timedelta(days - 1))},
        )
    )
    out = {}
    for e in view["events"]:
        if e["almanac"]:
            plan, rest = e["id"].split("-", 1)
            key = rest.rsplit("-", 1)[0]
            out[(plan, key, _utc(e["start"]), _utc(e["end"]))] = e["title"]
    return out


def _utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(ZoneInfo("UTC")).isoformat()


def _check(view: dict[str, Any], tz: ZoneInfo) -> list[str]:
    """Independent limits over the whole calendar as the API shows it."""
    out = []
    busy = sorted(
        (datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"]), e)
        for e in view["events"]
        if e["busy"]
    )
    for (_a0, a1, a), (b0, _, b) in zip(busy, busy[1:], strict=False):
        if b0 < a1 and (a["almanac"] or b["almanac"]):
            out.append(f"overlap {a['title']} / {b['title']}")
    per_day: dict[date, float] = defaultdict(float)
    per_week: dict[tuple[int, int], float] = defaultdict(float)
    for s, e, ev in busy:
        if not ev["almanac"]:
            continue
        ls, le = s.astimezone(tz), e.astimezone(tz)
        hours = (e - s).total_seconds() / 3600
        per_day[ls.date()] += hours
        per_week[ls.date().isocalendar()[:2]] += hours
        if ls.weekday() >= 5 or ls.hour < 9 or (le.hour, le.minute) > (17, 0):
            out.append(f"outside working hours: {ev['title']} {ls:%a %H:%M}")
    out += [f"{d}: {h:g} h > {DAILY_MAX}" for d, h in per_day.items() if h > DAILY_MAX + 1e-6]
    out += [f"{w}: {h:g} h > {CAPACITY}" for w, h in per_week.items() if h > CAPACITY + 1e-6]
    return out


async def _insert_plans(state: Any, spec: inst.Spec, monday: date) -> list[int]:
    """Plans and tasks from the core instance, shifted to `monday`, as approval creates them."""
    problem = inst.make(spec)
    shift = monday - spec.monday
    ids: dict[str, int] = {}
    async with state.sessionmaker() as session:
        for task in problem.tasks:
            plan_key, key = task.id.split("/")
            if plan_key not in ids:
                plan = Plan(
                    plan_title=f"client {plan_key}", intent="bench", sop={}, status="approved"
                )
                session.add(plan)
                await session.flush()
                ids[plan_key] = plan.id
            session.add(
                Task(
                    plan_id=ids[plan_key],
                    plan_task_key=key,
                    title=f"{plan_key} {key}",
                    estimate_hours=task.duration_minutes / 60,
                    priority=task.priority,
                    billable=task.billable,
                    depends_on=[d.split("/")[1] for d in task.depends_on],
                    deadline=task.deadline + shift if task.deadline else None,
                    status="todo",
                    metadata_={"hard_deadline": task.hard_deadline},
                )
            )
        await session.commit()
    return list(ids.values())


async def _count(state: Any) -> tuple[int, int]:
    async with state.sessionmaker() as session:
        runs = await session.scalar(select(func.count()).select_from(SchedulerRun))
        entries = await session.scalar(select(func.count()).select_from(CalendarEntry))
    return int(runs or 0), int(entries or 0)


async def run_instance(
    client: httpx.AsyncClient, state: Any, spec: inst.Spec, monday: date
) -> dict[str, Any]:
    tz = ZoneInfo(state.settings.timezone)
    rng = random.Random(spec.seed)
    for week in range(spec.weeks):
        start = monday + timedelta(weeks=week)
        r = await client.post(
            f"{S}/sprints", json={"week_start": str(start), "capacity_hrs": CAPACITY}
        )
        if r.status_code not in (201, 409):
            await _ok(r)
    for n, m in enumerate(inst.make(spec).busy):
        shifted = (m.start + (monday - spec.monday), m.end + (monday - spec.monday))
        body = {
            "title": f"meeting {n}",
            "start": shifted[0].isoformat(),
            "end": shifted[1].isoformat(),
            "idempotency_key": f"{spec.name}-{n}",
        }
        await _ok(await client.post("/api/v1/calendar/events", json=body))
    plan_ids = await _insert_plans(state, spec, monday)
    days = 7 * spec.weeks
    diffs, seconds, statuses = 0, [], []
    diff_examples: list[tuple[str, ...]] = []
    for plan_id in plan_ids:
        body = {"plan_id": plan_id, "start_date": str(monday), "horizon_days": days}
        before = await _blocks(client, monday, days)
        preview = await _ok(await client.post(f"{S}/schedule", json=body))
        seconds.append(preview["solver"]["wall_time_seconds"])
        statuses.append(f"{preview['solver']['status']}/{preview['solver']['stopped']}")
        expected = {k for k in before if k[0] != f"plan{plan_id}"}
        for m in preview["moves"]:
            gone = (
                f"plan{m['plan_id']}",
                m["task_key"],
                _utc(m["from_start"]),
                _utc(m["from_end"]),
            )
            expected.discard(gone)
            if m["to_start"] and m["plan_id"] != plan_id:
                expected.add(
                    (f"plan{m['plan_id']}", m["task_key"], _utc(m["to_start"]), _utc(m["to_end"]))
                )
        # This plan's blocks, and other plans' new ones (work their last schedule left out).
        expected |= {
            (f"plan{b['plan_id'] or plan_id}", b["task_key"], _utc(b["start"]), _utc(b["end"]))
            for b in [*preview["blocks"], *preview.get("placed", [])]
        }
        apply = {**body, "dry_run": False, "run_id": preview["run_id"]}
        await _ok(await client.post(f"{S}/schedule", json=apply))
        after = set(await _blocks(client, monday, days))
        diffs += len(after ^ expected)
        diff_examples += sorted(after ^ expected)[:3]
    view = await _ok(
        await client.get(
            f"{S}/calendar",
            params={"start_date": str(monday), "end_date": str(monday + timedelta(days - 1))},
        )
    )
    violations = _check(view, tz)
    first = await _blocks(client, monday, days)
    later = [
        k
        for k in first
        if datetime.fromisoformat(k[2])
        > datetime.fromisoformat(f"{monday + timedelta(1)}T00:00:00+00:00")
    ]
    meetings = []
    for n, k in enumerate(rng.sample(later, min(3, len(later)))):
        s0 = datetime.fromisoformat(k[2])
        meetings.append((s0, s0 + timedelta(hours=1)))
        body = {
            "title": f"new meeting {n}",
            "start": s0.isoformat(),
            "end": (s0 + timedelta(hours=1)).isoformat(),
        }
        await _ok(await client.post("/api/v1/calendar/events", json=body))
    # The blocks a meeting overlaps must move: the share that moved beyond them is the
    # replan's own choice (a meeting on a short block also overlaps the next one).
    hit = {
        k
        for k in first
        if any(
            datetime.fromisoformat(k[2]) < m1 and m0 < datetime.fromisoformat(k[3])
            for m0, m1 in meetings
        )
    }
    hit_plan = int(later[0][0][4:]) if later else plan_ids[0]
    replan = await _ok(await client.post(f"{S}/replan", json={"plan_id": hit_plan}))
    # A replan's preview is applied where it was made (a /schedule answers 422 naming run_id).
    apply = {"plan_id": hit_plan, "dry_run": False, "run_id": replan["run_id"]}
    await _ok(await client.post(f"{S}/replan", json=apply))
    second = set(await _blocks(client, monday, days))
    moved = len(set(first) - second) / max(1, len(first))
    async with state.sessionmaker() as session:  # close the instance so the next starts empty
        await session.execute(update(Plan).where(Plan.id.in_(plan_ids)).values(status="completed"))
        await session.commit()
    return {
        "instance": spec.name,
        "plans": len(plan_ids),
        "blocks": len(first),
        "preview_vs_write_differences": diffs,
        "difference_examples": diff_examples[:5],
        "violations": len(violations),
        "violation_examples": violations[:3],
        "replan_moved_share": round(moved, 4),
        "replan_hit_share": round(len(hit) / max(1, len(first)), 4),
        "replan_moved_beyond_hit": len(set(first) - second - hit),
        "replan_beyond_hit_why": sorted(
            m["why"]
            for m in replan["moves"]
            if (f"plan{m['plan_id']}", m["task_key"], _utc(m["from_start"]), _utc(m["from_end"]))
            not in hit
        ),
        "median_solve_seconds": sorted(seconds)[len(seconds) // 2],
        "statuses": sorted(set(statuses)),
    }


async def bad_input(client: httpx.AsyncClient, state: Any, monday: date) -> list[dict[str, Any]]:
    """Each bad request: its status, the field named, and whether anything was written."""
    async with state.sessionmaker() as session:
        plans = []
        for status in ("draft", "cancelled", "completed", "approved"):
            plan = Plan(plan_title=f"bad {status}", intent="bench", sop={}, status=status)
            session.add(plan)
            await session.flush()
            session.add(
                Task(plan_id=plan.id, plan_task_key="a", title="A", estimate_hours=2, status="todo")
            )
            plans.append(plan.id)
        await session.commit()
    draft, cancelled, completed, ok = plans
    cases = [
        ("draft plan", {"plan_id": draft}),
        ("cancelled plan", {"plan_id": cancelled}),
        ("completed plan", {"plan_id": completed}),
        ("unknown plan", {"plan_id": 10**12}),
        ("window in the past", {"plan_id": ok, "start_date": "2020-01-06"}),
        ("impossible window", {"plan_id": ok, "horizon_days": 0}),
        ("naive run id", {"plan_id": ok, "run_id": -1}),
    ]
    out = []
    for name, body in cases:
        before = await _count(state)
        r = await client.post(f"{S}/schedule", json={**body, "dry_run": False})
        after = await _count(state)
        errors = r.json().get("errors", []) if r.status_code >= 400 else []
        out.append(
            {
                "case": name,
                "status": r.status_code,
                "field": errors[0]["field"] if errors else "",
                "written": before != after,
            }
        )
    saturday = monday - timedelta(days=2)
    before = await _count(state)
    r = await client.post(
        f"{S}/schedule",
        json={"plan_id": ok, "start_date": str(saturday), "horizon_days": 2, "dry_run": False},
    )
    after = await _count(state)
    # A window with no working time is a 422 naming the field; a 200 (before that) listed
    # the task as unplaced with its cause.
    if r.status_code >= 400:
        errors = r.json().get("errors", [])
        answer = errors[0]["field"] if errors else ""
    else:
        unplaced = r.json().get("unplaced", [])
        causes = all(u["cause"] for u in unplaced)
        answer = f"{len(unplaced)} unplaced with cause" if causes else "cause missing"
    out.append(
        {
            "case": "no working time (weekend)",
            "status": r.status_code,
            "field": answer,
            "written": before != after,
        }
    )
    async with state.sessionmaker() as session:
        await session.execute(update(Plan).where(Plan.id.in_(plans)).values(status="completed"))
        await session.commit()
    return out


def _provider(state: Any) -> Any:
    def get() -> Any:
        return state

    return get


async def run_api(quick: bool) -> dict[str, Any]:
    """All API instances on one fresh database (embedded unless ALMANAC_DATABASE_URL is set)."""
    from almanac.app import create_app
    from almanac.auth.deps import authenticate
    from almanac.cli.runtime import LOCAL_OWNER, local_state
    from almanac.deps import get_state

    results: dict[str, Any] = {"instances": [], "bad_input": []}
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        for zone, monday in FUTURE_DST.items():
            settings = Settings(data_dir=Path(tmp) / zone.replace("/", "_"), timezone=zone)
            settings.llm = NoLLMSettings()
            settings.scheduler.daily_max_hours = DAILY_MAX
            settings.scheduler.workday_end = clock(17)
            # The bench's request rate is not a person's: lift the per-key limits.
            settings.security.rate_limit = "1000000/minute"
            settings.security.write_rate_limit = "1000000/minute"
            async with local_state(settings) as state:
                app = create_app(state=state)
                app.dependency_overrides[get_state] = _provider(state)
                # In-process on the bench's own database, as the CLI does: the owner (admin).
                app.dependency_overrides[authenticate] = _provider(LOCAL_OWNER)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://localhost", timeout=120
                ) as client:
                    specs = [s for s in inst.specs(True) if s.weeks == 2][: 1 if quick else 2]
                    for n, spec in enumerate(specs):
                        small = inst.Spec(
                            f"api-{zone.split('/')[1][:6]}-{n}",
                            zone,
                            spec.monday,
                            2,
                            API_TASKS,
                            spec.load,
                            spec.seed,
                            DAILY_MAX,
                            CAPACITY,
                        )
                        week = monday + timedelta(weeks=4 * n)
                        started = time.perf_counter()
                        row = await run_instance(client, state, small, week)
                        row["wall_seconds"] = round(time.perf_counter() - started, 2)
                        results["instances"].append(row)
                    if not results["bad_input"]:
                        results["bad_input"] = await bad_input(client, state, monday)
    return results
