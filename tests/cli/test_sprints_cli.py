"""`almanac sprints set` and `rm`: a sprint changed or removed from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from almanac.state import AppState
from tests.cli.test_capabilities_cli import cli_env, invoke  # noqa: F401


def _monday(weeks: int) -> str:
    today = datetime.now(UTC).date()
    return (today + timedelta(days=7 * weeks - today.weekday())).isoformat()


def test_a_sprint_is_changed_field_by_field_and_removed(cli_env: AppState) -> None:  # noqa: F811
    code, out = invoke("sprints", "add", _monday(3), "--capacity", "30", "--runway", "8", "--json")
    assert code == 0, out
    sprint = json.loads(out)["id"]
    code, out = invoke("sprints", "set", str(sprint), "--capacity", "24")
    assert code == 0, out
    assert f"sprint {sprint}" in out and "24 h" in out, out
    shown = json.loads(invoke("sprints", "set", str(sprint), "--target", "70", "--json")[1])
    # Only what was given changes: the capacity set before and the runway stay.
    assert (shown["capacity_hrs"], shown["billable_target_pct"]) == (24, 70)
    assert shown["runway_weeks"] == 8
    shown = json.loads(invoke("sprints", "set", str(sprint), "--no-runway", "--json")[1])
    assert shown["runway_weeks"] is None and shown["capacity_hrs"] == 24

    code, out = invoke("sprints", "set", str(sprint))
    assert code == 2 and "nothing to change" in out, out
    # Another sprint for its week is refused, pointing at the command that changes it.
    code, out = invoke("sprints", "add", _monday(3), "--capacity", "30")
    assert code == 2 and f"`almanac sprints set {sprint}`" in out, out
    code, out = invoke("sprints", "set", str(sprint), "--target", "150")
    assert code == 2 and "--target" in out and "billable_target_pct" not in out, out
    code, out = invoke("sprints", "set", str(sprint), "--runway", "3", "--no-runway")
    assert code == 2 and "--no-runway" in out, out

    code, out = invoke("sprints", "rm", str(sprint))
    assert code == 0 and f"sprint {sprint} deleted" in out, out
    code, out = invoke("sprints", "show", str(sprint))
    assert code != 0 and "not found" in out, out
    code, out = invoke("sprints", "rm", str(sprint))
    assert code != 0 and "not found" in out, out
