"""Periodic jobs: the user's time zone, DST, missed runs, and two schedulers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from almanac.config import JobsSettings, Settings
from almanac.jobs.clock import Periodic, latest_due, next_due, periodic_jobs, tick
from almanac.state import AppState
from tests.jobs.conftest import scalar

BERLIN = ZoneInfo("Europe/Berlin")
DAILY = Periodic(
    "test_daily",
    "0 18 * * *",
    "tests:record",
    "default",
    lambda due: {"key": due.date().isoformat()},
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_cron_fires_at_18_local_across_the_spring_dst_change():
    # Europe/Berlin moves to summer time on 2026-03-29.
    now, fired = utc(2026, 3, 27, 12), []
    for _ in range(4):
        now = next_due("0 18 * * *", BERLIN, now)
        fired.append(now)
    assert [d.astimezone(BERLIN).hour for d in fired] == [18, 18, 18, 18]
    assert [d.astimezone(UTC).hour for d in fired] == [17, 17, 16, 16]


def test_daily_cron_across_the_autumn_dst_change_in_new_york():
    zone = ZoneInfo("America/New_York")  # back to standard time on 2026-11-01
    before = latest_due("0 18 * * *", zone, utc(2026, 10, 31, 23))
    after = latest_due("0 18 * * *", zone, utc(2026, 11, 1, 23, 30))
    assert (before.astimezone(UTC).hour, after.astimezone(UTC).hour) == (22, 23)
    assert before.astimezone(zone).hour == after.astimezone(zone).hour == 18


def test_due_time_is_inclusive_and_weekly_is_friday():
    at_six = datetime(2026, 3, 27, 18, tzinfo=BERLIN)
    assert latest_due("0 18 * * *", BERLIN, at_six) == at_six
    weekly = latest_due("0 18 * * 5", BERLIN, utc(2026, 3, 30, 9))  # a Monday
    assert weekly.date().isoformat() == "2026-03-27" and weekly.isoweekday() == 5


def test_periodic_jobs_follow_settings_and_known_tasks():
    settings = Settings(_env_file=None, jobs=JobsSettings(daily_reflection_cron="0 17 * * *"))  # type: ignore[call-arg]
    jobs = {p.name: p for p in periodic_jobs(settings, {"almanac:retention", "observer:reflect"})}
    assert set(jobs) == {"retention", "daily_reflection", "weekly_review"}
    assert jobs["daily_reflection"].cron == "0 17 * * *"
    due = datetime(2026, 3, 27, 18, tzinfo=BERLIN)
    assert jobs["weekly_review"].args(due) == {"mode": "weekly", "day": "2026-03-27"}
    assert [p.name for p in periodic_jobs(settings, {"almanac:retention"})] == ["retention"]


async def _jobs(state: AppState) -> list[tuple[str, dict[str, str]]]:
    rows = await scalar(
        state.engine,
        "SELECT coalesce(array_agg(ARRAY[task_name, args::text] ORDER BY id), '{}') "
        "FROM procrastinate_jobs",
    )
    return [(task, args) for task, args in rows]


async def test_first_sight_records_the_due_time_without_running(committed_state: AppState):
    assert await tick(committed_state.sessionmaker, [DAILY], BERLIN, utc(2026, 3, 20, 19)) == []
    assert await _jobs(committed_state) == []


async def test_worker_back_after_three_missed_days_defers_the_daily_job_once(
    committed_state: AppState,
):
    sm = committed_state.sessionmaker
    await tick(sm, [DAILY], BERLIN, utc(2026, 3, 20, 17, 30))  # Friday 18:30 local: marker
    back = utc(2026, 3, 24, 9)  # Tuesday morning; Fri, Sat, Sun and Mon 18:00 were missed
    deferred = await tick(sm, [DAILY], BERLIN, back)
    assert [(d.name, d.due.date().isoformat()) for d in deferred] == [("test_daily", "2026-03-23")]
    assert await tick(sm, [DAILY], BERLIN, back + timedelta(minutes=5)) == []
    assert await _jobs(committed_state) == [("tests:record", '{"key": "2026-03-23"}')]


async def test_cron_is_read_in_the_users_zone_not_utc(committed_state: AppState):
    sm = committed_state.sessionmaker
    await tick(sm, [DAILY], BERLIN, utc(2026, 3, 28, 18))  # Sat 19:00 local (CET)
    # Sun 29 March (CEST), 16:30 UTC = 18:30 local: due locally, not yet in UTC terms.
    deferred = await tick(sm, [DAILY], BERLIN, utc(2026, 3, 29, 16, 30))
    assert [d.due for d in deferred] == [utc(2026, 3, 29, 16)]


async def test_same_due_time_from_two_schedulers_defers_one_job(committed_state: AppState):
    sm = committed_state.sessionmaker
    await tick(sm, [DAILY], BERLIN, utc(2026, 3, 20, 19))
    now = utc(2026, 3, 21, 19)
    first, second = await asyncio.gather(
        tick(sm, [DAILY], BERLIN, now), tick(sm, [DAILY], BERLIN, now)
    )
    assert len(first) + len(second) == 1
    assert await _jobs(committed_state) == [("tests:record", '{"key": "2026-03-21"}')]
    marker = await scalar(
        committed_state.engine, "SELECT last_due_at FROM job_schedules WHERE name = 'test_daily'"
    )
    assert marker == utc(2026, 3, 21, 17)
