"""The feed's secret token: generated once into the data folder, private, shared by starts."""

from __future__ import annotations

import dataclasses
import logging
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from almanac.app import create_app
from almanac.calendars.feed_token import FEED_TOKEN_FILE, ensure_feed_token_file, feed_token
from almanac.config import BuiltinCalendarSettings, Settings
from almanac.state import AppState


def _settings(data_dir: Path, token: str | None = None) -> Settings:
    calendar = BuiltinCalendarSettings(
        ics_feed_token=SecretStr(token) if token is not None else None
    )
    return Settings(data_dir=data_dir, calendar=calendar, _env_file=None)  # type: ignore[call-arg]


def test_generated_once_private_and_kept_across_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = feed_token(_settings(data))
    path = data / FEED_TOKEN_FILE
    assert first is not None and len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first
    assert feed_token(_settings(data)) == first  # a second start reads it back
    assert [p.name for p in data.iterdir()] == [FEED_TOKEN_FILE]  # no temporary file left
    path.chmod(0o644)
    assert feed_token(_settings(data)) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # loosened by hand: tightened again
    path.unlink()  # rotating: delete the file, start again
    assert feed_token(_settings(data)) not in (None, first)


def test_processes_starting_at_once_agree_on_one_token(tmp_path: Path) -> None:
    with ProcessPoolExecutor(6) as pool:
        tokens = set(pool.map(ensure_feed_token_file, [tmp_path / "data"] * 24))
    assert tokens == {(tmp_path / "data" / FEED_TOKEN_FILE).read_text().strip()}


def test_a_configured_token_wins_and_no_file_is_written(tmp_path: Path) -> None:
    assert feed_token(_settings(tmp_path / "data", "my-own-token")) == "my-own-token"
    assert not (tmp_path / "data").exists()


def test_an_unwritable_data_folder_gives_no_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert feed_token(_settings(blocker / "data")) is None
    assert "accepts only API keys" in caplog.text


async def test_the_app_makes_it_on_start_and_keeps_it_out_of_logs(
    state: AppState, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    own = dataclasses.replace(state, settings=state.settings.model_copy(update={"data_dir": data}))
    app = create_app(state=own)
    async with app.router.lifespan_context(app):
        token = (data / FEED_TOKEN_FILE).read_text().strip()
        logging.getLogger("almanac.test").warning("polled with %s", token)
    async with app.router.lifespan_context(app):
        assert (data / FEED_TOKEN_FILE).read_text().strip() == token
    assert token not in caplog.text


@pytest.mark.parametrize("weak", ["", "   ", "short"])
def test_an_empty_or_short_configured_token_is_refused_at_start(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ValueError, match="at least 8 characters"):
        _settings(tmp_path, weak)
