"""First start: an admin key is created once, written 0600 to the data folder."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from almanac.auth.bootstrap import ensure_first_key
from almanac.auth.service import KeyService
from almanac.config import Settings
from almanac.state import AppState


async def test_first_start_writes_a_working_admin_key_once(
    committed_state: AppState, tmp_path: Path
) -> None:
    committed_state.settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    # The run's test key counts as an admin key: nothing is created while it is active.
    await ensure_first_key(committed_state)
    assert not (tmp_path / "api-key").exists()

    async with committed_state.engine.begin() as conn:
        await conn.execute(text("UPDATE api_keys SET revoked_at = now()"))
    await ensure_first_key(committed_state)
    path = tmp_path / "api-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    async with committed_state.sessionmaker() as session:
        principal = await KeyService(session).verify(key)
    assert principal is not None and principal.scope == "admin"

    await ensure_first_key(committed_state)  # a second start changes nothing
    assert path.read_text().strip() == key
