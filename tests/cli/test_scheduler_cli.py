"""`almanac schedule` and `almanac agenda` in-process against the test database."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from almanac.cli import scheduler as cli_scheduler
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.models import CalendarEntry, Plan, SchedulerRun, Task
from almanac.state import AppState

runner = CliRunner()
TZ = ZoneInfo("Europe/Berlin")

app = typer.Typer()  # main.py registers the same two functions
app.command()(cli_scheduler.schedule)
app.command()(cli_scheduler.agenda)


def _monday() -> date:
    today = datetime.now(TZ).date()
    return today + timedelta(days=7 - today.weekday())


def on_db(url: str, fn: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run `fn` in a session of a fresh engine (the suite's engine lives on another loop)."""

    async def go() -> Any:
        engine = create_engine(url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await fn(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def cli_env(cli_env: AppState, monkeypatch: pytest.MonkeyPatch) -> AppState:
    monkeypatch.setenv("ALMANAC_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("ALMANAC_SCHEDULER__TIME_LIMIT_SECONDS", "2")
    monkeypatch.setattr(cli_scheduler, "console", Console(width=250))
    return cli_env


async def _seed(session: AsyncSession, status: str = "approved") -> int:
    plan = Plan(plan_title="Launch", intent="t", sop={}, status=status)
    session.add(plan)
    await session.flush()
    for key, hours in (("outline", 1.0), ("write", 2.0)):
        session.add(
            Task(plan_id=plan.id, plan_task_key=key, title=key.title(), estimate_hours=hours)
        )
    await session.flush()
    return int(plan.id)


async def _count_blocks(session: AsyncSession) -> int:
    n = await session.scalar(
        select(func.count()).select_from(CalendarEntry).where(CalendarEntry.almanac_id.is_not(None))
    )
    return int(n or 0)


def test_schedule_previews_asks_and_writes(cli_env: AppState, pg_url: str):
    plan_id = on_db(pg_url, _seed)
    start = _monday().isoformat()
    result = runner.invoke(
        app, ["schedule", str(plan_id), "--start", start, "--days", "5"], input="n\n"
    )
    assert result.exit_code == 0, result.output
    assert "Mon" in result.output and "Outline" in result.output and "Write" in result.output
    assert "not written" in result.output
    assert on_db(pg_url, _count_blocks) == 0

    result = runner.invoke(
        app, ["schedule", str(plan_id), "--start", start, "--days", "5"], input="y\n"
    )
    assert result.exit_code == 0, result.output
    assert "written to builtin: 2 created" in result.output
    assert on_db(pg_url, _count_blocks) == 2
    # Confirmed and written: no "nothing was written" above it (the header says a preview).
    assert "nothing was written" not in result.output, result.output

    result = runner.invoke(
        app, ["schedule", str(plan_id), "--start", start, "--days", "5", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 0 removed" in result.output
    # Written with --yes: no "nothing was written" before the write report.
    assert "nothing was written" not in result.output and "preview" not in result.output


def test_schedule_preview_starts_at_the_first_day_and_shows_meetings(
    cli_env: AppState, pg_url: str
):
    plan_id = on_db(pg_url, _seed)
    wednesday = _monday() + timedelta(days=2)
    meeting = wednesday.isoformat() + "T15:00:00+01:00"
    result = runner.invoke(
        app_with_calendar(),
        [
            "calendar",
            "add",
            "Client call",
            "--start",
            meeting,
            "--end",
            meeting[:11] + "16:00:00+01:00",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["schedule", str(plan_id), "--start", wednesday.isoformat(), "--days", "3"],
        input="n\n",
    )
    assert result.exit_code == 0, result.output
    assert "preview" in result.output and "nothing is written until you confirm" in result.output
    first_columns = result.output.split("Wed")[0]
    assert "Mon" not in first_columns and "Tue" not in first_columns  # no empty past days
    assert "15:00-16:00 Client call (busy)" in result.output


def test_a_week_with_nothing_in_it_is_one_line_not_an_empty_table(cli_env: AppState, pg_url: str):
    plan_id = on_db(pg_url, _seed)
    start = _monday().isoformat()
    result = runner.invoke(
        app, ["schedule", str(plan_id), "--start", start, "--days", "14"], input="n\n"
    )
    assert result.exit_code == 0, result.output
    assert "Outline" in result.output and "Write" in result.output
    second = _monday() + timedelta(days=7)
    last = second + timedelta(days=6)
    said = f"plan {plan_id}: nothing from {second:%a %d %b} to {last:%a %d %b}"
    assert said in result.output, result.output
    assert f"{second:%a %d}" not in result.output.replace(said, "")


def app_with_calendar() -> typer.Typer:
    from almanac.cli.main import app as root

    return root


def test_schedule_errors_exit_2(cli_env: AppState, pg_url: str):
    plan_id = on_db(pg_url, lambda s: _seed(s, status="draft"))
    result = runner.invoke(app, ["schedule", str(plan_id), "--yes"])
    assert result.exit_code == 2 and "draft" in result.output
    result = runner.invoke(app, ["schedule", str(plan_id), "--days", "0"])
    assert result.exit_code == 2 and "--days: " in result.output
    result = runner.invoke(app, ["schedule", str(plan_id), "--start", "soon"])
    assert result.exit_code == 2 and "--start" in result.output


def test_agenda_lists_coming_events(cli_env: AppState, pg_url: str):
    async def add(session: AsyncSession) -> None:
        start = datetime.now(TZ).replace(microsecond=0) + timedelta(days=1)
        session.add(
            CalendarEntry(
                uid="cli-test",
                title="Board meeting",
                start_at=start,
                end_at=start + timedelta(hours=1),
            )
        )
        await session.flush()

    on_db(pg_url, add)
    result = runner.invoke(app, ["agenda", "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "Board meeting" in result.output and "busy" in result.output


def test_agenda_shows_each_blocks_client(cli_env: AppState, pg_url: str):
    """Blocks belong to a plan with a client: the agenda had no column for it."""

    async def add(session: AsyncSession) -> None:
        start = datetime.now(TZ).replace(microsecond=0) + timedelta(days=1)
        for client_id, key in ((42, "audit"), (None, "own")):
            plan = Plan(plan_title="P", intent="t", sop={}, status="scheduled", client_id=client_id)
            session.add(plan)
            await session.flush()
            session.add(
                CalendarEntry(
                    uid=f"block-{key}",
                    title=f"Block {key}",
                    start_at=start,
                    end_at=start + timedelta(hours=1),
                    almanac_id=f"plan{plan.id}-{key}-0",
                )
            )
            start += timedelta(hours=2)
        session.add(
            CalendarEntry(
                uid="cli-event", title="Dentist", start_at=start, end_at=start + timedelta(hours=1)
            )
        )
        await session.flush()

    on_db(pg_url, add)
    result = runner.invoke(app, ["agenda", "--days", "3"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if " day " in f" {line} ")
    assert "client" in header
    rows = {
        name: line.split("│")[1:-1]
        for line in result.output.splitlines()
        for name in ("Block audit", "Block own", "Dentist")
        if name in line
    }
    assert [c.strip() for c in rows["Block audit"]][3:] == ["almanac", "42"]
    assert [c.strip() for c in rows["Block own"]][3:] == ["almanac", ""]
    assert [c.strip() for c in rows["Dentist"]][3:] == ["busy", ""]


async def _seed_chain(session: AsyncSession, title: str, n: int, hours: float) -> int:
    plan = Plan(plan_title=title, intent="t", sop={}, status="approved")
    session.add(plan)
    await session.flush()
    for i in range(n):
        session.add(
            Task(
                plan_id=plan.id,
                plan_task_key=f"t{i}",
                title=f"{title} step {i}",
                estimate_hours=hours,
                depends_on=[f"t{i - 1}"] if i else [],
            )
        )
    await session.flush()
    return int(plan.id)


def test_schedule_preview_shows_other_plans_blocks_it_writes(cli_env: AppState, pg_url: str):
    # B's write also places A's work left out by A's one-day window: the week view showed
    # B's blocks only, and "Write these blocks?" wrote A's too without showing them.
    a = on_db(pg_url, lambda s: _seed_chain(s, "Alpha", 4, 3.0))
    start = _monday().isoformat()
    result = runner.invoke(app, ["schedule", str(a), "--start", start, "--days", "1", "--yes"])
    assert result.exit_code == 0, result.output
    b = on_db(pg_url, lambda s: _seed_chain(s, "Beta", 1, 1.0))
    args = ["schedule", str(b), "--start", start, "--days", "2"]
    preview = runner.invoke(app, [*args, "--json"])
    assert preview.exit_code == 0, preview.output
    placed = json.loads(preview.output)["placed"]
    assert placed and {p["plan_id"] for p in placed} == {a}
    result = runner.invoke(app, args, input="n\n")
    assert result.exit_code == 0, result.output
    # (Each preview solves again: the lines are checked for shape, not against the first.)
    shown = re.findall(rf"also: adds plan {a} t\d: \w\w\w \d\d \d\d:\d\d-", result.output)
    assert shown, result.output


def test_replan_names_each_block_it_moves(cli_env: AppState, pg_url: str):
    # `almanac replan` said "50% moved" and nothing of which blocks, to where, or why.
    plan_id = on_db(pg_url, _seed)
    args = ["schedule", str(plan_id), "--start", _monday().isoformat(), "--days", "5", "--yes"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output

    async def meet(session: AsyncSession) -> CalendarEntry:
        first = await session.scalar(
            select(CalendarEntry)
            .where(CalendarEntry.almanac_id.is_not(None))
            .order_by(CalendarEntry.start_at)
        )
        assert first is not None
        session.add(
            CalendarEntry(
                uid="cli-clash", title="Clash", start_at=first.start_at, end_at=first.end_at
            )
        )
        await session.flush()
        return first

    hit = on_db(pg_url, meet)
    result = runner.invoke(app_with_calendar(), ["replan", str(plan_id)])
    assert result.exit_code == 0, result.output
    was, until = hit.start_at.astimezone(TZ), hit.end_at.astimezone(TZ)
    assert f"moves plan {plan_id} " in result.output, result.output
    # The share is of every plan's blocks, said so: "13 blocks, 6% moved" read as 6% of 13.
    share = re.search(r"(\d+) blocks; (\d+) of (\d+) blocks of all plans moved", result.output)
    assert share is not None, result.output
    assert 0 < int(share[2]) <= int(share[3]), result.output
    # Each block's span on the schedule's clock, as the schedule preview shows it.
    assert f": {was:%Y-%m-%d %H:%M}-{until:%H:%M} -> " in result.output, result.output


def test_schedule_with_no_answer_writes_nothing_and_says_how(cli_env: AppState, pg_url: str):
    # Before: input that ended unanswered (a script, a pipe) printed a bare "Aborted."
    plan_id = on_db(pg_url, _seed)
    args = ["schedule", str(plan_id), "--start", _monday().isoformat(), "--days", "5"]
    result = runner.invoke(app, args, input="")
    assert result.exit_code == 1, result.output
    assert "Aborted" not in result.output
    assert "not written: no answer" in result.stderr
    assert "pass --yes to write without asking" in result.stderr
    assert on_db(pg_url, _count_blocks) == 0


def test_replan_writes_the_preview_it_showed(cli_env: AppState, pg_url: str):
    # `almanac replan` previewed and said "add --yes to write", but --yes solved again and
    # could write something else than the preview shown; --run writes that preview.
    plan_id = on_db(pg_url, _seed)
    args = ["schedule", str(plan_id), "--start", _monday().isoformat(), "--days", "5", "--yes"]
    assert runner.invoke(app, args).exit_code == 0
    root = app_with_calendar()
    preview = runner.invoke(root, ["replan", str(plan_id)])
    assert preview.exit_code == 0, preview.output
    found = re.search(r"add --yes --run (\d+) to write it", preview.output)
    assert found, preview.output
    run_id = int(found.group(1))
    refused = runner.invoke(root, ["replan", str(plan_id), "--run", str(run_id)])
    assert refused.exit_code == 2 and "--yes" in refused.output, refused.output
    result = runner.invoke(root, ["replan", str(plan_id), "--yes", "--run", str(run_id)])
    assert result.exit_code == 0, result.output
    assert "written" in result.output, result.output

    async def status(session: AsyncSession) -> tuple[str, Any]:
        run = await session.get(SchedulerRun, run_id)
        assert run is not None
        return run.status, (run.metadata_ or {}).get("applied_as")

    state, applied_as = on_db(pg_url, status)
    assert state == "applied" and applied_as is not None
    # Sent again (a retry, or the command run twice): the first write's answer, said so.
    again = runner.invoke(root, ["replan", str(plan_id), "--yes", "--run", str(run_id)])
    assert again.exit_code == 0, again.output
    assert f"already written (run {applied_as}); nothing written now" in again.output


def test_schedule_json_yes_writes_with_one_solve(cli_env: AppState, pg_url: str):
    # With --json --yes nothing is shown before the write, yet a preview was solved and
    # recorded first, and then a fresh solve written: two runs, twice the time.
    plan_id = on_db(pg_url, _seed)
    args = ["schedule", str(plan_id), "--start", _monday().isoformat(), "--days", "5"]

    async def runs(session: AsyncSession) -> int:
        found = select(func.count()).select_from(SchedulerRun)
        return int(
            (await session.execute(found.where(SchedulerRun.plan_id == plan_id))).scalar_one()
        )

    result = runner.invoke(app, [*args, "--json", "--yes"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["applied"] is True
    assert on_db(pg_url, _count_blocks) == 2
    assert on_db(pg_url, runs) == 1


def test_agenda_shows_an_end_on_another_day_with_its_day_and_rounds_an_end_up(
    cli_env: AppState, pg_url: str
):
    """An event from 01:00 one night to 01:14 two nights later was shown "01:00-01:14", as if
    it lasted 14 minutes; one ending at 09:44:59.5 (an exporter's end of a quarter hour)
    read as ending at 09:44."""
    tomorrow = datetime.now(TZ).date() + timedelta(days=1)
    night = datetime.combine(tomorrow, datetime.min.time(), TZ).replace(hour=1)
    later = night + timedelta(days=2, minutes=14)
    morning = night.replace(hour=9)

    async def add(session: AsyncSession) -> None:
        session.add(CalendarEntry(uid="cli-away", title="Away", start_at=night, end_at=later))
        end = morning + timedelta(minutes=44, seconds=59, microseconds=500_000)
        session.add(CalendarEntry(uid="cli-call", title="Call", start_at=morning, end_at=end))
        await session.flush()

    on_db(pg_url, add)
    result = runner.invoke(app, ["agenda", "--days", "3"])
    assert result.exit_code == 0, result.output
    rows = {
        name: [c.strip() for c in line.split("│")[1:-1]]
        for line in result.output.splitlines()
        for name in ("Away", "Call")
        if name in line
    }
    assert rows["Away"][:2] == [f"{night:%a %d %b}", f"01:00-{later:%a %d %b} 01:14"]
    assert rows["Call"][:2] == [f"{morning:%a %d %b}", "09:00-09:45"]


def test_clock_span_reads_an_end_at_midnight_and_all_day_events() -> None:
    day = datetime(2026, 12, 3, 22, 0, tzinfo=TZ)
    midnight = datetime(2026, 12, 4, tzinfo=TZ)
    assert cli_scheduler.clock_span(day, midnight, TZ) == "22:00-00:00"
    assert cli_scheduler.clock_span(day, midnight + timedelta(minutes=1), TZ) == (
        "22:00-Fri 04 Dec 00:01"
    )
    start = datetime(2026, 12, 3, tzinfo=TZ)
    assert cli_scheduler.clock_span(start, start + timedelta(days=1), TZ, True) == "all day"
    assert cli_scheduler.clock_span(start, start + timedelta(days=3), TZ, True) == (
        "all day, to Sat 05 Dec"
    )
    # An end in another year says its year: "14:00-Thu 09 Dec 15:00" hid a year.
    a_year = datetime(2027, 12, 9, 15, 0, tzinfo=TZ)
    assert cli_scheduler.clock_span(day, a_year, TZ) == "22:00-Thu 09 Dec 2027 15:00"
    assert cli_scheduler.clock_span(start, datetime(2027, 1, 2, tzinfo=TZ), TZ, True) == (
        "all day, to Fri 01 Jan 2027"
    )


def test_other_plans_blocks_show_the_day_a_late_block_ends_on() -> None:
    """`also:` lines formatted spans their own way: a block from 22:00 to 01:00 read as
    ending at 01:00 on the day it began."""
    from types import SimpleNamespace

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 12, day, hour, tzinfo=ZoneInfo("Europe/Berlin"))

    late = SimpleNamespace(plan_id=2, title="Late push", start=at(7, 22), end=at(8, 1))
    short = SimpleNamespace(plan_id=2, title="Call prep", start=at(8, 9), end=at(8, 10))
    out = SimpleNamespace(timezone="Europe/Berlin", plan_id=1, moves=[], placed=[late, short])
    assert cli_scheduler.elsewhere(out) == [  # type: ignore[arg-type]
        "adds plan 2 Late push: Mon 07 22:00-Tue 08 Dec 01:00",
        "adds plan 2 Call prep: Tue 08 09:00-10:00",
    ]


def test_a_sprint_added_under_what_is_scheduled_says_so(cli_env: AppState, pg_url: str):
    """`sprints add` for a week already holding more than its capacity printed only the
    sprint's id: the user learnt of the excess at the next `sprints show`, if ever."""
    from almanac.cli.main import app as main_app

    plan_id = on_db(pg_url, _seed)
    start = _monday().isoformat()
    args = ["schedule", str(plan_id), "--start", start, "--days", "5", "--yes"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(main_app, ["sprints", "add", start, "--capacity", "2"])
    assert result.exit_code == 0, result.output
    assert "warning: capacity exceeded: 3 h scheduled, capacity 2 h" in result.output
    assert f"almanac replan {plan_id} --full" in result.output, result.output
    # A week with room says nothing more.
    later = (_monday() + timedelta(days=7)).isoformat()
    result = runner.invoke(main_app, ["sprints", "add", later, "--capacity", "20"])
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_the_week_at_80_columns_is_a_list_by_day_not_a_folded_table(
    cli_env: AppState, pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    """At 80 columns each of the week's seven columns is 8 wide: "09:00-10:0" / "0 Outline"."""
    monkeypatch.setattr(cli_scheduler, "console", Console(width=80))
    plan_id = on_db(pg_url, _seed)
    args = ["schedule", str(plan_id), "--start", _monday().isoformat(), "--days", "5"]
    result = runner.invoke(app, args, input="n\n")
    assert result.exit_code == 0, result.output
    assert re.search(r"^  \d\d:\d\d-\d\d:\d\d Outline$", result.output, re.M), result.output
    assert re.search(r"^Mon \d\d$", result.output, re.M), result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80, result.output
    # The days shown, first to last ("week of Fri 04 Dec" read as a week from Monday).
    first, last = _monday(), _monday() + timedelta(days=4)
    said = f"plan {plan_id}: {first:%a %d %b} to {last:%a %d %b %Y}"
    assert said in result.output and "week of" not in result.output, result.output
