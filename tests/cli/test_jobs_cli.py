"""`almanac retention run` and `almanac jobs list` in-process (no server runs on the data
folder); through a running server: tests/cli/test_discovery.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from almanac.cli.main import app
from almanac.db.engine import create_engine
from almanac.state import AppState

runner = CliRunner()


async def _old_events(url: str) -> None:
    """Two events from 200 days ago, one of them promoted to a fact."""
    engine = create_engine(url)
    old = datetime.now(UTC) - timedelta(days=200)
    try:
        async with engine.begin() as conn:
            for content in ("stale note", "kept as a fact"):
                await conn.execute(
                    text(
                        "INSERT INTO events (content, event_type, event_source, memory_scope, "
                        "salience_score, occurred_at, created_at) "
                        "VALUES (:c, 'memory', 'user', 'session', 0.5, :t, :t)"
                    ),
                    {"c": content, "t": old},
                )
            await conn.execute(
                text(
                    "INSERT INTO facts (subject_type, subject_id, fact_type, content, "
                    "valid_from) VALUES ('user', 'me', 'preference', 'kept as a fact', now())"
                )
            )
            await conn.execute(
                text(
                    "UPDATE events SET promoted_to_fact_id = (SELECT max(id) FROM facts) "
                    "WHERE content = 'kept as a fact'"
                )
            )
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(pg_url: str, committed_state: AppState, monkeypatch: pytest.MonkeyPatch) -> AppState:
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(committed_state.settings.data_dir))
    asyncio.run(_old_events(pg_url))
    return committed_state


def test_retention_dry_run_then_real_run(cli_env: AppState) -> None:
    result = runner.invoke(app, ["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: 1 events older than" in result.output
    assert "1 promoted to facts would be kept" in result.output

    result = runner.invoke(app, ["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "1 events older than" in result.output and ".jsonl.gz" in result.output

    result = runner.invoke(app, ["retention", "run", "--dry-run"])
    assert "dry run: 0 events" in result.output


def test_jobs_list_and_a_bad_status(cli_env: AppState) -> None:
    result = runner.invoke(app, ["jobs", "list"])
    assert result.exit_code == 0, result.output
    assert "jobs" in result.output
    result = runner.invoke(app, ["jobs", "list", "--status", "sleeping"])
    assert result.exit_code == 2 and "status" in result.output


def test_retention_and_jobs_as_json(cli_env: AppState) -> None:
    result = runner.invoke(app, ["retention", "run", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["eligible"], report["kept_promoted"], report["deleted"]) == (1, 1, 0)
    assert report["dry_run"] is True and report["files"] == []
    result = runner.invoke(app, ["jobs", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.output), list)


@pytest.mark.parametrize("concurrency", ["0", "-3", "65"])
def test_worker_refuses_a_concurrency_out_of_range_before_starting(
    concurrency: str, tmp_path: Path
) -> None:
    # Before: 0 started a worker that never ran a job, -3 a traceback once Postgres was up
    # (a subprocess with a deadline, so a regression fails instead of hanging the suite).
    env = {"PATH": "/usr/bin:/bin", "ALMANAC_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "worker", "--concurrency", concurrency],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Invalid value for '--concurrency'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "postgres").exists()  # refused before anything started
