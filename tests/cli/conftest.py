"""Every CLI test gets its own data folder, so no real server's record is ever found."""

from __future__ import annotations

from pathlib import Path

import pytest

from almanac.state import AppState
from tests.live_server import free_port


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "almanac-data"
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(data))
    monkeypatch.delenv("ALMANAC_URL", raising=False)
    monkeypatch.delenv("ALMANAC_API_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # wide tables: cells are not wrapped mid-sentence
    return data


@pytest.fixture
def cli_env(pg_url: str, committed_state: AppState, monkeypatch: pytest.MonkeyPatch) -> AppState:
    """In-process commands on the test database: no server listens on the recorded port."""
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    monkeypatch.setenv("ALMANAC_SERVER__PORT", str(free_port()))
    monkeypatch.delenv("ALMANAC_VALKEY_URL", raising=False)
    return committed_state


async def reset_prompts(pg_url: str) -> None:
    """Drop prompt versions a test added and re-activate v1: the migrations seed
    prompt_templates, so the suite's truncation between tests leaves them alone."""
    from sqlalchemy import text

    from almanac.db.engine import create_engine

    engine = create_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM prompt_templates WHERE version <> 'v1'"))
            await conn.execute(text("UPDATE prompt_templates SET is_active = true"))
    finally:
        await engine.dispose()
