"""A refusal names the command's own option (`--salience`, `--hours`, `--at`), not the
API's field behind it (`salience_score`, `actual_hours`, `ended_at`); and `almanac log
--at` places a record in time, refused where it overlaps another of the task's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from almanac.cli.main import app
from almanac.state import AppState
from tests.cli.test_planner_cli import cli_env  # noqa: F401

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_remember_and_facts_name_salience_as_the_option(cli_env: AppState) -> None:  # noqa: F811
    for args in (
        ["remember", "Deep work before noon", "--salience", "2"],
        ["facts", "add", "Deep work before noon", "--salience", "2"],
    ):
        code, out = invoke(*args)
        assert code == 2, out
        assert "--salience" in out and "salience_score" not in out, out


def test_runs_and_log_name_their_options(cli_env: AppState) -> None:  # noqa: F811
    code, out = invoke("plan", "Onboard Acme as a new client", "--json")
    assert code == 0, out
    code, out = invoke("approve", str(json.loads(out)["id"]), "--json")
    assert code == 0, out
    task_id = str(json.loads(out)["task_ids"][0])
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    code, out = invoke("runs", "start", task_id, "--at", base.isoformat(), "--json")
    assert code == 0, out
    run_id = str(json.loads(out)["id"])
    # 5 h between a start and an end 1 h apart: refused naming --hours.
    end = (base + timedelta(hours=1)).isoformat()
    code, out = invoke("runs", "stop", run_id, "--at", end, "--hours", "5")
    assert code == 2, out
    assert "--hours" in out and "actual_hours" not in out, out
    code, out = invoke("runs", "stop", run_id, "--at", end)
    assert code == 0, out
    # 1 h ending half an hour into that run overlaps it: refused naming --at.
    inside = (base + timedelta(minutes=30)).isoformat()
    code, out = invoke("log", task_id, "1", "--at", inside)
    assert code == 2, out
    assert "--at" in out and f"execution run {run_id}" in out and "ended_at" not in out, out
    code, out = invoke("log", task_id, "1", "--at", base.isoformat())
    assert code == 0, out


def test_facts_list_and_recall_name_their_options(cli_env: AppState) -> None:  # noqa: F811
    """`almanac facts --type bogus` said "fact_type: ...", `--as-of yesterday` "as_of",
    `recall --client 0` "client_id": fields these commands have no option for."""
    for args, option, field in (
        (["facts", "--type", "bogus"], "--type", "fact_type"),
        (["facts", "--as-of", "yesterday"], "--as-of", "as_of"),
        (["facts", "--subject-type", "x" * 101], "--subject-type", "subject_type"),
        (["recall", "deep work", "--client", "0"], "--client", "client_id"),
        (["recall", "deep work", "--session", "s" * 300], "--session", "session_id"),
    ):
        code, out = invoke(*args)
        assert code == 2, (args, out)
        assert option in out and field not in out, (args, out)


def test_sprints_add_names_its_options(cli_env: AppState) -> None:  # noqa: F811
    """`almanac sprints add --target 150` said "billable_target_pct: ...", `--capacity`
    "capacity_hrs": the API's fields, not the command's options."""
    monday = datetime.now(UTC).date() + timedelta(days=7 - datetime.now(UTC).weekday())
    for args, option, field in (
        (["--capacity", "40", "--target", "150"], "--target", "billable_target_pct"),
        (["--capacity", "-1"], "--capacity", "capacity_hrs"),
        (["--capacity", "40", "--runway", "-2"], "--runway", "runway_weeks"),
    ):
        code, out = invoke("sprints", "add", monday.isoformat(), *args)
        assert code == 2, (args, out)
        assert option in out and field not in out, (args, out)


def test_runs_start_names_no_at_it_was_not_given_and_stop_says_when_on_the_users_clock(
    cli_env: AppState,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`almanac runs start 7` while a run of task 7 ran said "--at 2026-12-02T08:35:57+00:00:
    ...": an option never given, at a time in UTC. Stopping a run twice said when it was
    stopped in UTC to the microsecond; times in messages are the user's, to the minute."""
    monkeypatch.setenv("ALMANAC_TIMEZONE", "America/New_York")  # never UTC's clock
    code, out = invoke("plan", "Onboard Acme as a new client", "--json")
    assert code == 0, out
    code, out = invoke("approve", str(json.loads(out)["id"]), "--json")
    assert code == 0, out
    task_id = str(json.loads(out)["task_ids"][0])
    code, out = invoke("runs", "start", task_id, "--json")
    assert code == 0, out
    running = json.loads(out)
    code, out = invoke("runs", "start", task_id)
    assert code == 2, out
    assert "--at" not in out and "started_at" not in out, out
    assert f"execution run {running['id']} of the same task is still running" in out, out
    zone = ZoneInfo("America/New_York")
    began = datetime.fromisoformat(running["started_at"]).astimezone(zone)
    assert f"{began:%H:%M}" in out and "+00:00" not in out, out

    code, out = invoke("runs", "stop", str(running["id"]), "--json")
    assert code == 0, out
    ended = datetime.fromisoformat(json.loads(out)["ended_at"]).astimezone(zone)
    code, out = invoke("runs", "stop", str(running["id"]))
    assert code == 2, out
    assert f"already stopped (at {ended:%a %d %b %H:%M})" in out, out
    assert "+00:00" not in out and f"{ended:%H:%M:%S}" not in out, out


@pytest.mark.parametrize(
    ("args", "said", "not_said"),
    [
        # Checked before any request: the API's names were shown for the command's options.
        (["schedule", "1", "--days", "0"], "--days: ", "horizon_days"),
        (["schedule", "1", "--start", "9999-12-31"], "--start: must lie between", "start_date"),
        (["schedule", "1", "--start", "someday"], "--start: not a date", "error: start:"),
        (["schedule", "0"], "PLAN_ID: ", "plan_id"),
    ],
)
def test_schedule_names_its_options(args: list[str], said: str, not_said: str) -> None:
    code, out = invoke(*args)
    assert code == 2 and said in out and not_said not in out, out


def test_tasks_names_its_options(cli_env: AppState) -> None:  # noqa: F811
    code, out = invoke("tasks", "--plan", str(2**63))
    assert code == 2 and "--plan: " in out and "plan_id" not in out, out
    code, out = invoke("tasks", "--status", "finished")
    assert code == 2 and "--status: " in out, out
