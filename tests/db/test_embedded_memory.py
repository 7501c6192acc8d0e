"""The embedded server's buffer cache follows the setting from its very first start, and a
server restarted for it is still the one stopped at the end. A real embedded Postgres."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import asyncpg
import pytest

from almanac.db.embedded import start_embedded
from almanac.db.embedded_memory import CAP_MB, FLOOR_MB, shared_buffers_mb
from tests.test_serve import _postgres_pids


async def _shared_buffers(url: str, name: str = "shared_buffers") -> str:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return str(await conn.fetchval(f"SHOW {name}"))
    finally:
        await conn.close()


def _stopped(data: Path) -> bool:
    deadline = time.monotonic() + 20
    while _postgres_pids(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _postgres_pids(data)


async def _buffers_at_start(data: Path, mb: int) -> str:
    """Start the embedded server with `mb`, read its shared_buffers, stop it (and check the
    server stopped is the one that ran)."""
    pg = await start_embedded(data, database="almanac_buffers", shared_buffers_mb=mb)
    try:
        value = await _shared_buffers(pg.url)
    finally:
        pg.stop()
    assert _stopped(data)
    return value


async def test_shared_buffers_from_the_first_start_and_at_the_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pg = await start_embedded(data, database="almanac_buffers", shared_buffers_mb=144)
    try:
        # initdb writes 128MB: a new server is restarted once to take the setting.
        assert await _shared_buffers(pg.url) == "144MB"
        # Not shared_buffers/32, zeroed at every start.
        assert await _shared_buffers(pg.url, "wal_buffers") == "4MB"
    finally:
        pg.stop()
    assert _stopped(data), "the restarted server must be the one stopped"

    assert await _buffers_at_start(data, 160) == "160MB"


def test_default_size_is_a_share_of_memory_within_bounds() -> None:
    assert shared_buffers_mb(200) == 200
    assert FLOOR_MB <= shared_buffers_mb(None) <= CAP_MB


async def test_buffers_the_machine_cannot_give_leave_the_server_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The tuning is optional: a size Postgres cannot allocate (64 GB here, more than the
    machine has) is logged and the server runs with initdb's buffers -- at the first start
    (the restart fails) and at the next (the server would not start with it)."""
    data = tmp_path / "data"
    for _ in range(2):
        with caplog.at_level(logging.WARNING, logger="almanac.db.embedded_memory"):
            pg = await start_embedded(data, database="almanac_buffers", shared_buffers_mb=65_536)
        try:
            assert await _shared_buffers(pg.url) == "128MB"
            assert "shared_buffers" in caplog.text
        finally:
            pg.stop()
        assert _stopped(data)
        caplog.clear()
    # A size it can give still takes effect afterwards.
    assert await _buffers_at_start(data, 144) == "144MB"


async def test_a_data_folder_from_before_the_setting_takes_it(tmp_path: Path) -> None:
    """A data folder an older Almanac made (no almanac.conf, no include) gets both."""
    data = tmp_path / "data"
    pg = await start_embedded(data, database="almanac_buffers", shared_buffers_mb=144)
    pg.stop()
    assert _stopped(data)
    pgdata = data / "postgres"
    (pgdata / "almanac.conf").unlink()
    main = pgdata / "postgresql.conf"
    main.write_text(main.read_text().split("# Almanac's settings")[0])
    pg = await start_embedded(data, database="almanac_buffers", shared_buffers_mb=160)
    try:
        assert await _shared_buffers(pg.url) == "160MB"
        assert main.read_text().count("\ninclude_if_exists = 'almanac.conf'") == 1
    finally:
        pg.stop()
    assert _stopped(data)
