"""`almanac demo`: the whole loop, each link checked (no LLM, the built-in calendar)."""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from almanac.app import create_app
from almanac.cli.demo import OVERRUN, run_demo
from almanac.cli.main import app
from almanac.deps import get_state
from almanac.state import AppState
from tests.conftest import http_client


async def test_each_link_of_the_loop(committed_state: AppState) -> None:
    api = create_app(state=committed_state)
    api.dependency_overrides[get_state] = lambda: committed_state
    lines: list[str] = []
    async with http_client(api) as client:
        out = await run_demo(client, "Europe/Berlin", lines.append)

    # Remembered preferences became facts.
    assert len(out.preference_fact_ids) == 2 and all(out.preference_fact_ids)
    # Planned from the library, and says so.
    assert out.first_plan["source"] == "library" and out.first_plan["llm"]["used"] is False
    assert out.first_plan["plan_title"].startswith("Business diagnostic")
    # Scheduled into the built-in calendar, around the meetings, and written.
    blocks = out.schedule["blocks"]
    assert blocks and not out.schedule["unplaced"]
    meetings = [
        (datetime.fromisoformat(m["start"]), datetime.fromisoformat(m["end"])) for m in out.meetings
    ]
    for block in blocks:
        start, end = datetime.fromisoformat(block["start"]), datetime.fromisoformat(block["end"])
        assert all(end <= m_start or start >= m_end for m_start, m_end in meetings), block
    assert out.schedule["dry_run"] is False
    # Execution runs overran, as recorded; Postgres computed the variance.
    first_tasks = sum(len(s["tasks"]) for s in out.first_plan["sop"]["steps"])
    assert len(out.runs) >= 3 * first_tasks
    assert {r["variance_pct"] for r in out.runs[:first_tasks]} == {(OVERRUN - 1) * 100}
    # The reflection saw the drift and the pattern became a fact.
    recommendations = out.reflection["report"]["recommendations"]
    assert recommendations
    # Three are printed; the rest are counted, not dropped in silence (the demo showed
    # two of eight steps that had drifted alike, as if the others had not).
    shown = [line for line in lines if line.strip().startswith("recommendation:")]
    assert len(shown) == min(3, len(recommendations))
    if len(recommendations) > 3:
        assert any(f"and {len(recommendations) - 3} more" in line for line in lines)
    assert any("Business diagnostic" in f["content"] for f in out.pattern_facts)
    # The next plan uses the learned estimates.
    assert out.next_plan["calibration"]
    assert out.next_plan["total_hours"] == pytest.approx(
        out.first_plan["total_hours"] * OVERRUN, rel=0.05
    )
    assert any(line.startswith("6. Plan again") for line in lines)
    # Plans of the same workflow say where their total comes from (the library's estimate,
    # or that estimate calibrated from runs), so equal work never shows unexplained totals.
    plan_lines = [line for line in lines if line.strip().startswith("plan #")]
    assert len(plan_lines) == 3 and all("library estimate" in line for line in plan_lines)
    library_total = f"{out.first_plan['total_hours']:g} h"
    assert all(library_total in line for line in plan_lines)


def test_demo_command_runs_on_a_fresh_embedded_database(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALMANAC_DATABASE_URL", raising=False)
    monkeypatch.delenv("ALMANAC_VALKEY_URL", raising=False)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "6. Plan again: the estimates have learned" in result.output
    assert "h before," in result.output and "done" in result.output
