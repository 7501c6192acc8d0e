"""Local clients find their key: the CLI and the Planner calling a separate Gateway."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from almanac.auth.keyfile import client_key, gateway_key, read_key_file, write_key_file
from almanac.config import ServerSettings, Settings
from almanac.memory.client import HttpMemoryClient, connect_gateway
from almanac.state import AppState


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **kw)  # type: ignore[arg-type, call-arg]


def test_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = tmp_path / "api-key"
    old.write_text("stale")
    old.chmod(0o644)
    import os

    mask = os.umask(0)
    try:
        path = write_key_file(tmp_path, "alm_new")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(tmp_path) == "alm_new"


def test_cli_key_from_env_or_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALMANAC_API_KEY", raising=False)
    assert client_key(_settings(tmp_path)) is None
    write_key_file(tmp_path, "alm_from_file")
    assert client_key(_settings(tmp_path)) == "alm_from_file"
    monkeypatch.setenv("ALMANAC_API_KEY", "alm_from_env")
    assert client_key(_settings(tmp_path)) == "alm_from_env"


async def test_the_planner_sends_its_own_key_to_a_separate_gateway(
    tmp_path: Path, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALMANAC_API_KEY", raising=False)
    write_key_file(tmp_path, "alm_data_folder_key")
    server = ServerSettings(memory_gateway_url="http://127.0.0.1:9")
    state.settings = _settings(tmp_path, server=server)
    client = connect_gateway(state)
    assert isinstance(client, HttpMemoryClient)
    assert client.client.headers["authorization"] == "Bearer alm_data_folder_key"
    await client.close()
    server = ServerSettings(
        memory_gateway_url="http://127.0.0.1:9", memory_gateway_key=SecretStr("alm_planner")
    )
    state.settings = _settings(tmp_path, server=server)
    assert gateway_key(state.settings) == "alm_planner"
    client = connect_gateway(state)
    assert isinstance(client, HttpMemoryClient)
    assert client.client.headers["authorization"] == "Bearer alm_planner"
    await client.close()
