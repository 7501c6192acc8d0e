"""`almanac workflows import|list` end to end against the test database (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from almanac.cli import workflows as cli_workflows
from almanac.cli.workflows import workflows_app
from almanac.ontology.library import load_library
from almanac.state import AppState

runner = CliRunner()


@pytest.fixture
def cli_env(cli_env: AppState, monkeypatch: pytest.MonkeyPatch) -> AppState:
    # These tests import by hand; the first-start load is tested in test_discovery.py.
    monkeypatch.setenv("ALMANAC_PLANNER__STARTER_LIBRARY", "false")
    monkeypatch.setattr(cli_workflows, "console", Console(width=250))
    return cli_env


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(workflows_app, list(args))
    return result.exit_code, result.output


def test_import_starter_library_twice_and_list(cli_env: AppState):
    count = len(load_library().workflows)
    code, out = invoke("import")
    assert code == 0, out
    assert f"workflows {count} created, 0 updated, 0 unchanged" in out
    code, out = invoke("import")
    assert code == 0, out
    assert f"workflows 0 created, 0 updated, {count} unchanged" in out
    assert "blueprints 0 created, 0 updated" in out

    code, out = invoke("list")
    assert code == 0, out
    assert "Discovery call" in out and "Weekly review" in out and f"workflows ({count})" in out

    code, out = invoke("list", "--capability", "growth", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["total"] >= 1 and {w["capability"] for w in data["items"]} == {"growth"}


def test_import_user_file_and_bad_file(cli_env: AppState, tmp_path: Path):
    flow = {
        "name": "Quarterly taxes",
        "capability": "ops",
        "steps": [
            {
                "id": "s",
                "title": "Taxes",
                "tasks": [{"id": "gather", "title": "Gather receipts", "estimate_hours": 1.5}],
            }
        ],
    }
    good = tmp_path / "taxes.json"
    good.write_text(json.dumps(flow), encoding="utf-8")
    code, out = invoke("import", str(good))
    assert code == 0 and "workflows 1 created" in out, out

    flow["steps"][0]["tasks"][0]["depends_on"] = ["nowhere"]  # type: ignore[index]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(flow), encoding="utf-8")
    code, out = invoke("import", str(bad))
    assert code == 2
    assert "bad.json.steps[0].tasks[0].depends_on" in out and "nowhere" in out

    code, out = invoke("import", str(tmp_path / "missing.json"))
    assert code == 2

    code, out = invoke("list", "--json")
    assert [w["name"] for w in json.loads(out)["items"]] == ["Quarterly taxes"]
