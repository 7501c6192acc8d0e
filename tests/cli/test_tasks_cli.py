"""`almanac tasks`, `log`, `done` end to end (in-process: no server answering)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from typer.testing import CliRunner

from almanac.cli import tasks as tasks_cli
from almanac.cli.main import app
from almanac.state import AppState
from tests.cli.test_planner_cli import cli_env  # noqa: F401

# A deadline a little ahead of whenever the suite runs (a fixed date would pass into the
# past), and how the tables show it in UTC and in Berlin.
DUE_DAY = (datetime.now(UTC) + timedelta(days=17)).date().isoformat()
DEADLINE = f"{DUE_DAY}T17:00:00+01:00"


def reflect_day_of_work(hours: float) -> list[str]:
    """`almanac reflect` for the day the hours just logged began: hours count on the day
    their work began (billing.hours_in), which is yesterday just after midnight (UTC)."""
    began = datetime.now(UTC) - timedelta(hours=hours)
    return ["reflect", "--date", began.date().isoformat()]


runner = CliRunner()


def approved_plans_tasks() -> dict[str, Any]:
    """`tasks --plan --json` of a plan made and approved through the CLI."""
    result = runner.invoke(app, ["plan", "Onboard Acme as a new client"])
    assert result.exit_code == 0, result.output
    plan_id = result.output.split("almanac approve ")[1].split()[0]
    assert runner.invoke(app, ["approve", plan_id]).exit_code == 0
    listed: dict[str, Any] = json.loads(
        runner.invoke(app, ["tasks", "--plan", plan_id, "--json"]).output
    )
    return listed


def test_list_log_and_done(cli_env: AppState, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(tasks_cli, "console", Console(width=200))
    result = runner.invoke(app, ["plan", "Onboard Acme as a new client"])
    assert result.exit_code == 0, result.output
    plan_id = result.output.split("almanac approve ")[1].split()[0]
    result = runner.invoke(app, ["approve", plan_id])
    assert result.exit_code == 0, result.output
    assert "task #" in result.output  # approval names the task ids

    result = runner.invoke(app, ["tasks", "--plan", plan_id, "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["total"] == 4 and all(t["status"] == "todo" for t in listed["items"])
    first = listed["items"][0]

    result = runner.invoke(app, ["log", str(first["id"]), "1.5"])
    assert result.exit_code == 0, result.output
    assert "1.5 h recorded" in result.output

    result = runner.invoke(app, ["done", str(first["id"]), "--hours", "0.5"])
    assert result.exit_code == 0, result.output
    assert "done (2 h recorded)" in result.output

    result = runner.invoke(app, ["tasks", "--plan", plan_id])
    assert result.exit_code == 0, result.output
    assert "done" in result.output and "in_progress" not in result.output

    second = listed["items"][1]
    result = runner.invoke(app, ["log", str(second["id"]), "0.25", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["task"]["logged_hours"] == 0.25
    result = runner.invoke(app, ["done", str(second["id"]), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["task"]["status"] == "done"

    # Hours at the same time on two tasks: taken, and the second says so.
    third, fourth = listed["items"][2]["id"], listed["items"][3]["id"]
    for task_id in (third, fourth):
        result = runner.invoke(app, ["log", str(task_id), "2", "--at", "2026-03-02T12:00+00:00"])
        assert result.exit_code == 0, result.output
    assert "warning: these hours share time with" in result.output, result.output
    assert f"of task {third}" in result.output, result.output

    result = runner.invoke(app, ["log", str(first["id"]), "-3"])
    # The hours named and why, not "No such option: -3".
    assert result.exit_code == 2 and "'hours': -3 is not between 0.01 and 24" in result.output
    result = runner.invoke(app, ["log", str(first["id"]), "1", "--hrs"])
    assert result.exit_code == 2 and "unexpected extra argument" in result.output
    result = runner.invoke(app, ["done", "999999"])
    assert result.exit_code == 2 and "not found" in result.output


def test_narrow_terminal_tables_and_reflection(cli_env: AppState, monkeypatch) -> None:  # noqa: F811
    """At 80 columns a due time stays on its row, the approve hint on one line, and
    `reflect` prints what it found (hours worked, billable share), not only its id."""
    from almanac.cli import planner as planner_cli

    monkeypatch.setattr(tasks_cli, "console", Console(width=80))
    monkeypatch.setattr(planner_cli, "console", Console(width=80))
    result = runner.invoke(app, ["plan", "Onboard Acme as a new client", "--deadline", DEADLINE])
    assert result.exit_code == 0, result.output
    plan_id = result.output.split("almanac approve ")[1].split()[0]
    result = runner.invoke(app, ["approve", plan_id])
    assert result.exit_code == 0, result.output
    assert f"almanac schedule {plan_id}\n" in result.output

    result = runner.invoke(app, ["tasks", "--plan", plan_id])
    assert result.exit_code == 0, result.output
    assert len(re.findall(f"{DUE_DAY} 16:00", result.output)) == 4, result.output

    listed = json.loads(runner.invoke(app, ["tasks", "--plan", plan_id, "--json"]).output)
    result = runner.invoke(app, ["done", str(listed["items"][0]["id"]), "--hours", "1.5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, reflect_day_of_work(1.5))
    assert result.exit_code == 0, result.output
    assert "1.5 worked" in result.output, result.output
    assert "billable:" in result.output and "no LLM is configured" in result.output


def test_a_clients_plan_and_tasks_show_the_client_and_logged_hours_count_before_done(
    cli_env: AppState,  # noqa: F811
    monkeypatch,
) -> None:
    from almanac.cli import planner as planner_cli

    monkeypatch.setattr(tasks_cli, "console", Console(width=80))
    monkeypatch.setattr(planner_cli, "console", Console(width=120))
    result = runner.invoke(
        app,
        [
            "plan",
            "Onboard Acme as a new client",
            "--client",
            "7",
            "--deadline",
            DEADLINE,
        ],
    )
    assert result.exit_code == 0, result.output
    plan_id = result.output.split("almanac approve ")[1].split()[0]
    assert runner.invoke(app, ["approve", plan_id]).exit_code == 0

    result = runner.invoke(app, ["plans"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "status" in line)
    assert "client" in header
    row = next(line for line in result.output.splitlines() if f" {plan_id} " in line)
    assert re.search(r"\b7\b", row), result.output

    monkeypatch.setattr(tasks_cli, "console", Console(width=120))
    result = runner.invoke(app, ["tasks", "--plan", plan_id])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "status" in line)
    assert header.split()[:3] == ["id", "plan", "client"], result.output
    rows = [line for line in result.output.splitlines() if f"{DUE_DAY} 16:00" in line]
    assert len(rows) == 4 and all(re.search(r"\b7\b", r) for r in rows), result.output

    # At 80 columns the fixed columns left the title 7 characters, and the rest of each
    # line was cut off: "Send th / and wal / through" for "Send the proposal and walk
    # the client through it". Each task is then two lines, the title whole on the first.
    monkeypatch.setattr(tasks_cli, "console", Console(width=80))
    result = runner.invoke(app, ["tasks", "--plan", plan_id])
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(app, ["tasks", "--plan", plan_id, "--json"]).output)
    text = " ".join(result.output.split())
    for task in listed["items"]:
        assert f"#{task['id']} {task['title']}" in text, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    # The due time whole, and the client, on each task's detail line.
    rows = [line for line in result.output.splitlines() if f"{DUE_DAY} 16:00" in line]
    assert len(rows) == 4 and all("client 7" in r for r in rows), result.output

    # 1.5 h logged on a task that is not done yet count as worked on the day they began.
    listed = json.loads(runner.invoke(app, ["tasks", "--plan", plan_id, "--json"]).output)
    result = runner.invoke(app, ["log", str(listed["items"][0]["id"]), "1.5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, reflect_day_of_work(1.5))
    assert result.exit_code == 0, result.output
    assert "1.5 worked" in result.output, result.output


def test_due_times_are_shown_in_the_users_zone(cli_env: AppState, monkeypatch) -> None:  # noqa: F811
    # The API answers in UTC; the table showed that, an hour early for a user in Berlin.
    monkeypatch.setenv("ALMANAC_TIMEZONE", "Europe/Berlin")
    monkeypatch.setattr(tasks_cli, "console", Console(width=120))
    result = runner.invoke(app, ["plan", "Onboard Acme as a new client", "--deadline", DEADLINE])
    assert result.exit_code == 0, result.output
    plan_id = result.output.split("almanac approve ")[1].split()[0]
    assert runner.invoke(app, ["approve", plan_id]).exit_code == 0
    result = runner.invoke(app, ["tasks", "--plan", plan_id])
    assert result.exit_code == 0, result.output
    assert f"{DUE_DAY} 17:00" in result.output and "16:00" not in result.output, result.output


def test_a_task_done_today_but_not_planned_today_reads_as_done(
    cli_env: AppState,  # noqa: F811
) -> None:
    """A task finished today counts done today even when no block of it was planned today:
    the reflection said "tasks: 0 planned, 1 of them done" (the dashboard "1 of 0 tasks
    done", the MCP and Open WebUI tools "1/0 tasks done")."""
    listed = approved_plans_tasks()
    result = runner.invoke(app, ["done", str(listed["items"][0]["id"]), "--hours", "0.5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["reflect"])
    assert result.exit_code == 0, result.output
    assert "tasks: 0 planned, 1 done" in result.output, result.output
    # "hours: 0 estimated" stood above "estimated 1 h" for the same day: the first counts
    # only the tasks planned in it, which it now says.
    assert "hours: 0 estimated for the tasks planned, " in result.output, result.output


def test_done_without_hours_counts_in_todays_reflection(cli_env: AppState) -> None:  # noqa: F811
    """`almanac done ID` with no time recorded, then `almanac reflect`: 0 done (no run, no
    finish time, and the plan never scheduled)."""
    listed = approved_plans_tasks()
    result = runner.invoke(app, ["done", str(listed["items"][0]["id"])])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["reflect"])
    assert result.exit_code == 0, result.output
    assert "0 planned, 1 done" in result.output, result.output


def test_done_at_records_work_finished_after_the_fact(cli_env: AppState) -> None:  # noqa: F811
    """The API takes `finished_at` for work recorded after the fact, but `almanac done`
    (like the MCP, Open WebUI and dashboard buttons) could only mark a task done now: a
    week's work caught up today counted done today and 0 done in its own week."""
    listed = approved_plans_tasks()
    first, second = (str(t["id"]) for t in listed["items"][:2])
    # Noon UTC: the same day in the user's zone.
    then = (datetime.now(UTC) - timedelta(days=9)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    args = ["done", first, "--hours", "1.5", "--at", then.isoformat(), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)["task"]
    assert datetime.fromisoformat(task["finished_at"]) == then, task
    assert task["logged_hours"] == 1.5
    # Before the work recorded on it: refused, naming the option.
    result = runner.invoke(app, ["log", second, "1", "--at", then.isoformat()])
    assert result.exit_code == 0, result.output
    earlier = (then - timedelta(days=1)).isoformat()
    result = runner.invoke(app, ["done", second, "--at", earlier])
    assert result.exit_code == 2 and "--at" in result.output, result.output
    result = runner.invoke(app, ["reflect", "--mode", "weekly", "--date", then.date().isoformat()])
    assert result.exit_code == 0, result.output
    assert "planned, 1 done" in result.output, result.output


def test_done_refused_for_its_time_records_no_hours(cli_env: AppState) -> None:  # noqa: F811
    """`done --hours H --at T` recorded the hours, then was refused (T before work already
    recorded on the task): the task stayed open with the hours on it, and the same command
    with a corrected --at recorded them a second time."""
    listed = approved_plans_tasks()
    task_id, plan_id = (str(listed["items"][0][k]) for k in ("id", "plan_id"))
    later = (datetime.now(UTC) - timedelta(days=2)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    assert runner.invoke(app, ["log", task_id, "1", "--at", later.isoformat()]).exit_code == 0
    earlier = (later - timedelta(days=1)).isoformat()
    result = runner.invoke(app, ["done", task_id, "--hours", "2", "--at", earlier])
    assert result.exit_code == 2 and "--at" in result.output, result.output
    shown = json.loads(runner.invoke(app, ["tasks", "--plan", plan_id, "--json"]).output)
    task = next(t for t in shown["items"] if str(t["id"]) == task_id)
    assert task["status"] == "in_progress" and task["logged_hours"] == 1, task
    # Hours that overlap the hour recorded: the task is done, the hours are not, said so.
    result = runner.invoke(app, ["done", task_id, "--hours", "2", "--at", later.isoformat()])
    assert result.exit_code == 2, result.output
    assert f"task #{task_id} is done; its 2 h were not recorded" in result.output, result.output
    # Corrected, the command records its hours once and the task is done then.
    finish = (later + timedelta(hours=2)).isoformat()
    result = runner.invoke(app, ["done", task_id, "--hours", "2", "--at", finish, "--json"])
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)["task"]
    assert task["status"] == "done" and task["logged_hours"] == 3, task


@pytest.mark.parametrize(
    ("args", "name", "reason"),
    [
        # NaN passed typer's float and failed its range: "should be ≤ 24".
        (["log", "1", "nan"], "'hours'", "'nan' is not a number (NaN or infinity)"),
        (["log", "1", "inf"], "'hours'", "'inf' is not a number (NaN or infinity)"),
        (["log", "1", "1e309"], "'hours'", "is not a number (NaN or infinity)"),
        (["done", "1", "--hours", "NaN"], "'--hours'", "is not a number (NaN or infinity)"),
        (["log", "1", "25"], "'hours'", "25 is not between 0.01 and 24"),
        (["log", "1", "two"], "'hours'", "'two' is not a number"),
    ],
)
def test_hours_not_a_number_are_named_so(args: list[str], name: str, reason: str) -> None:
    result = runner.invoke(app, args)  # refused before any request: no server needed
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"Invalid value for {name}" in result.output and reason in result.output, result.output


def test_no_tasks_is_one_line_not_an_empty_table(cli_env: AppState, monkeypatch) -> None:  # noqa: F811
    """`almanac tasks --today` with nothing for today printed a titled table of headers
    over no rows ("tasks (0)", "id plan status ..."), as `schedule` once printed an empty
    week."""
    monkeypatch.setattr(tasks_cli, "console", Console(width=200))
    result = runner.invoke(app, ["tasks", "--today", "--status", "done"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no tasks for today (status done)", result.output
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no tasks", result.output
    # A plan that is not there is said so, not an empty plan's "no tasks (plan 999)".
    result = runner.invoke(app, ["tasks", "--plan", "999999"])
    assert result.exit_code != 0 and "999999" in result.output, result.output
    assert "not found" in result.output or "does not exist" in result.output, result.output


def test_done_and_log_say_when_the_calendar_write_is_only_queued(monkeypatch) -> None:
    """With CalDAV down, `done` printed "1 future block(s) freed" and nothing more, while
    the block was still in the calendar until a queued job wrote the change."""
    detail = "the caldav calendar is unavailable; the schedule is saved and job 12 writes it"
    task = {"title": "Audit", "logged_hours": 1.0, "remaining_hours": 0.0}
    answers = {
        "done": {
            "task": task,
            "released_blocks": 1,
            "calendar": {"pending": True, "detail": detail},
        },
        "log": {
            "task": task,
            "actual_hours": 1.0,
            "blocks": [],
            "calendar": {"pending": True, "detail": detail},
        },
    }
    for command, answer in answers.items():
        monkeypatch.setattr(tasks_cli, "run", lambda go, answer=answer: answer)
        monkeypatch.setattr(tasks_cli, "console", Console(width=200))
        args = [command, "7"] if command == "done" else [command, "7", "1"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "calendar not updated yet" in result.output and "job 12" in result.output
        written = {**answer, "calendar": {"pending": False, "detail": ""}}
        monkeypatch.setattr(tasks_cli, "run", lambda go, answer=written: answer)
        assert "not updated" not in runner.invoke(app, args).output


def test_at_without_an_offset_is_read_in_the_users_zone(
    cli_env: AppState,  # noqa: F811
    monkeypatch,
) -> None:
    """`log --at 2026-12-03T10:00` and `done --at` refused a time without an offset, which
    `calendar add` and `facts add --valid-from` read in ALMANAC_TIMEZONE; `--at yesterday`
    was the schema's "input is too short"."""
    monkeypatch.setenv("ALMANAC_TIMEZONE", "America/New_York")
    listed = approved_plans_tasks()
    first, second = (str(t["id"]) for t in listed["items"][:2])
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    wall = f"{day.isoformat()}T10:00"
    result = runner.invoke(app, ["log", first, "1", "--at", wall, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["actual_hours"] == 1  # refused before: no offset
    result = runner.invoke(app, ["done", second, "--at", f"{day.isoformat()}T17:30", "--json"])
    assert result.exit_code == 0, result.output
    finished = datetime.fromisoformat(json.loads(result.output)["task"]["finished_at"])
    assert finished.astimezone(ZoneInfo("America/New_York")).hour == 17
    result = runner.invoke(app, ["log", first, "1", "--at", "yesterday"])
    assert result.exit_code == 2
    assert "'yesterday' is no time" in result.output and "America/New_York" in result.output
