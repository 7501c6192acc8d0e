"""`almanac plan`, `plans`, `approve` end to end (in-process: no server answering)."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from typer.testing import CliRunner

from almanac.cli import planner as planner_cli
from almanac.cli.main import app
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.models import Workflow
from almanac.state import AppState
from tests.live_server import free_port
from tests.planner.conftest import ONBOARDING

runner = CliRunner()


async def _add_workflow(url: str) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add(
                Workflow(
                    name="Client onboarding",
                    capability="delivery",
                    steps=ONBOARDING,
                    metadata_={"keywords": ["onboard a new client"]},
                )
            )
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(cli_env: AppState, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> AppState:
    monkeypatch.setattr(planner_cli, "console", Console(width=200))
    asyncio.run(_add_workflow(pg_url))
    return cli_env


def test_plan_prints_a_tree_then_approve_and_list(cli_env: AppState) -> None:
    result = runner.invoke(app, ["plan", "Onboard Acme as a new client"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Client onboarding: Onboard Acme as a new client" in out
    assert "Access and audit" in out and "audit: Audit the current marketing stack · 4 h" in out
    assert "after accounts" in out
    assert "No LLM was used" in out
    plan_id = out.split("almanac approve ")[1].split()[0]

    result = runner.invoke(app, ["approve", plan_id])
    assert result.exit_code == 0, result.output
    assert f"plan #{plan_id} approved" in result.output and "4 tasks" in result.output

    result = runner.invoke(app, ["plans", "--status", "approved"])
    assert result.exit_code == 0, result.output
    assert "approved" in result.output and "7.5" in result.output
    # A refusal names the option given ("status: …", "client_id: …" named API fields).
    result = runner.invoke(app, ["plans", "--status", "bogus"])
    assert result.exit_code == 2 and "--status: " in result.output, result.output
    result = runner.invoke(app, ["plan", "Audit for Acme", "--client", "-5"])
    assert result.exit_code == 2 and "--client: " in result.output, result.output
    assert "client_id" not in result.output, result.output

    result = runner.invoke(app, ["approve", plan_id])
    assert result.exit_code == 2
    assert "the plan is already approved" in result.output


def test_plan_again_with_its_key_prints_the_same_plan(cli_env: AppState) -> None:
    """A retried `almanac plan --key K` gets the plan the first made, not a second draft."""
    args = ["plan", "Onboard Acme as a new client", "--key", "acme-1", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["id"] == json.loads(first.output)["id"]
    listed = runner.invoke(app, ["plans", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["total"] == 1
    other = runner.invoke(app, ["plan", "Onboard Initech as a new client", "--key", "acme-1"])
    assert other.exit_code != 0 and "--key 'acme-1'" in other.output, other.output


def test_no_match_exits_2_with_the_advice(cli_env: AppState) -> None:
    result = runner.invoke(app, ["plan", "repaint the garden shed in dark green"])
    assert result.exit_code == 2
    assert "No workflow in the library matches" in result.output
    # The CLI's own options and commands, not the REST fields the API's problem names.
    text = " ".join(result.output.split())
    assert "--workflow ID" in text and "almanac workflows import" in text
    assert "workflow_id" not in text and "POST /api" not in text


def test_a_server_that_never_answers_is_one_line_not_a_traceback() -> None:
    # A listener that accepts and stays silent: the client's read times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        result = runner.invoke(
            app,
            ["plan", "launch a newsletter", "--url", f"http://127.0.0.1:{port}", "--timeout", "1"],
        )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("error: no answer from") and "ReadTimeout" in line


def test_an_unreachable_server_is_one_line() -> None:
    port = free_port()  # nothing listens there
    result = runner.invoke(
        app, ["plan", "launch a newsletter", "--url", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == 1
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("error: cannot reach") and "ConnectError" in line


@pytest.mark.parametrize("value", ["inf", "nan", "1e9", "0"])
def test_a_timeout_out_of_range_is_refused_naming_it(value: str) -> None:
    port = free_port()  # never reached: the option is refused first
    result = runner.invoke(
        app, ["plan", "x", "--timeout", value, "--url", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == 2, result.output
    assert "--timeout" in result.output
    # NaN was refused as "less than or equal to 3600": the reason names what it is.
    assert ("is not a number" in result.output) == (value in ("inf", "nan")), result.output


@pytest.mark.parametrize(
    ("given", "due"),
    [
        # A date alone, as people write a due date, is due by the end of that day; it was
        # refused ("must include a UTC offset").
        ("2027-03-09", "2027-03-09T23:59:59.999999"),
        ("2027-03-09T17:00", "2027-03-09T17:00:00"),
        ("2027-03-09T17:00:00+05:00", None),  # its own offset holds
    ],
)
def test_a_deadline_without_an_offset_is_read_on_the_users_clock(
    cli_env: AppState, given: str, due: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_TIMEZONE", "America/New_York")
    zone = ZoneInfo("America/New_York")
    result = runner.invoke(
        app, ["plan", "Onboard Acme as a new client", "--deadline", given, "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    said = datetime.fromisoformat(out["deadline"]).astimezone(zone)
    if due is None:
        expected = datetime.fromisoformat(given)
    else:
        expected = datetime.fromisoformat(due).replace(tzinfo=zone)
    assert said == expected, (out["deadline"], expected)
