"""The embedded server's buffer cache follows the setting from its very first start, and a
server restarted for it is still the one stopped at the end. A real embedded Postgres."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg

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

    pg = await start_embedded(data, database="almanac_buffers", shared_buffers_mb=160)
    try:
        assert await _shared_buffers(pg.url) == "160MB"
    finally:
        pg.stop()
    assert _stopped(data)


def test_default_size_is_a_share_of_memory_within_bounds() -> None:
    assert shared_buffers_mb(200) == 200
    assert FLOOR_MB <= shared_buffers_mb(None) <= CAP_MB
