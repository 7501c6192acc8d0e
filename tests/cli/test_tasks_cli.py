"""`almanac tasks`, `log`, `done` end to end (in-process: no server answering)."""

from __future__ import annotations

import json

from rich.console import Console
from typer.testing import CliRunner

from almanac.cli import tasks as tasks_cli
from almanac.cli.main import app
from almanac.state import AppState
from tests.cli.test_planner_cli import cli_env  # noqa: F401

runner = CliRunner()


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

    result = runner.invoke(app, ["log", str(first["id"]), "-3"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["done", "999999"])
    assert result.exit_code == 2 and "not found" in result.output
