"""Every CLI test gets its own data folder, so no real server's record is ever found."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "almanac-data"
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(data))
    monkeypatch.delenv("ALMANAC_URL", raising=False)
    monkeypatch.delenv("ALMANAC_API_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # wide tables: cells are not wrapped mid-sentence
    return data
