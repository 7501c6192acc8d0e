"""The CLI for runs, reflect, sprints, prompts and plan versions (in-process), with --json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from almanac.cli.main import app
from almanac.state import AppState
from tests.cli.conftest import reset_prompts

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def cli_env(
    pg_url: str, committed_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppState]:
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    monkeypatch.delenv("ALMANAC_VALKEY_URL", raising=False)
    yield committed_state
    asyncio.run(reset_prompts(pg_url))


def test_plan_versions_runs_reflect_sprints_prompts(cli_env: AppState, tmp_path: Path):
    code, out = invoke("plan", "Run a discovery call with Acme", "--json")
    assert code == 0, out
    plan = json.loads(out)
    code, out = invoke("plan-show", str(plan["id"]))
    assert code == 0 and "matched Discovery call" in out, out

    code, out = invoke("plan-diff", str(plan["id"]))
    assert code == 0 and "only version 1: nothing to compare" in out, out

    sop = plan["sop"]
    sop["steps"][0]["tasks"][0]["estimate_hours"] += 2
    edited = tmp_path / "sop.json"
    edited.write_text(json.dumps(sop))
    code, out = invoke("plan-edit", str(plan["id"]), str(edited), "--note", "longer prep")
    assert code == 0 and "is now version 2" in out, out
    # The same file again makes no version, and says so ("is now version 2" again).
    code, out = invoke("plan-edit", str(plan["id"]), str(edited))
    assert code == 0 and "unchanged" in out and "now version" not in out, out
    code, out = invoke("plan-diff", str(plan["id"]), "--json")
    assert code == 0, out
    diff = json.loads(out)
    assert diff["from"] == 1 and diff["to"] == 2
    assert any(line.startswith("+") and "estimate_hours" in line for line in diff["diff"])

    code, out = invoke("approve", str(plan["id"]), "--json")
    assert code == 0, out
    task_ids = json.loads(out)["task_ids"]
    task_id = task_ids[0]
    code, out = invoke("runs", "start", str(task_id), "--at", "2026-03-02T09:00:00+01:00")
    assert code == 0 and "in_progress" in out, out
    run_id = out.split()[1]
    code, out = invoke("runs", "stop", run_id, "--hours", "1.5", "--json")
    assert code == 0 and json.loads(out)["actual_hours"] == 1.5, out
    code, out = invoke("runs", "list", "--json")
    assert code == 0 and json.loads(out)["total"] == 1, out
    code, out = invoke("runs", "list")  # boxed, as the rich tables of other commands
    assert code == 0 and "┏" in out and f"│ {run_id} " in out and "└" in out, out
    # A second timer on another task starts, and says the first still runs.
    code, out = invoke("runs", "start", str(task_id))
    assert code == 0 and "warning" not in out, out
    first = out.split()[1]
    code, out = invoke("runs", "start", str(task_ids[1]))
    assert code == 0 and f"warning: run {first} on task {task_id}" in out, out
    second = out.split()[1]
    code, out = invoke("runs", "stop", first, "--hours", "0.5")
    # Learning waits until a task is done: the stop says how, while it is in mind.
    assert code == 0 and f"task {task_id} is in progress: `almanac done {task_id}`" in out, out
    code, out = invoke("done", str(task_ids[1]))  # which stops its timer too
    assert code == 0, out
    code, out = invoke("runs", "list", "--json")
    assert {r["id"]: r["status"] for r in json.loads(out)["items"]}[int(second)] == "completed"

    code, out = invoke("sprints", "add", "2026-03-02", "--capacity", "30", "--json")
    assert code == 0, out
    sprint = json.loads(out)
    code, out = invoke("sprints", "show", str(sprint["id"]))
    assert code == 0 and "of 30 h scheduled" in out, out
    code, out = invoke("sprints", "add", "2026-03-03", "--capacity", "30")
    assert code == 2 and "Monday" in out

    code, out = invoke("reflect", "--mode", "weekly", "--json")
    assert code == 0 and json.loads(out)["mode"] == "weekly", out

    code, out = invoke("prompts", "list", "--json")
    assert code == 0 and any(p["template_name"] == "sop_generator" for p in json.loads(out))
    text = tmp_path / "prompt.txt"
    text.write_text("Plan in numbered steps with tasks, hours and dependencies, please.")
    code, out = invoke("prompts", "new", "sop_generator", str(text))
    assert code == 0 and "v2" in out, out
    code, out = invoke("prompts", "activate", "sop_generator", "v2")
    assert code == 0 and "v2 is active" in out, out
    code, out = invoke("prompts", "list")  # the table, as the README shows it
    assert code == 0 and "sop_generator" in out and "v2" in out, out
