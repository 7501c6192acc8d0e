"""First start: an admin key is created once, written 0600 to the data folder; the Planner
run apart gets its own key for the Gateway."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text

from almanac.app import create_app
from almanac.auth.bootstrap import ensure_first_key, ensure_planner_key
from almanac.auth.keyfile import gateway_key, write_key_file
from almanac.auth.service import KeyService
from almanac.config import ServerSettings, Settings
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


def _apart(state: AppState, data: Path, **server: object) -> AppState:
    """`state` as the Planner run apart from its Gateway, on data folder `data`."""
    settings = Settings(  # type: ignore[call-arg]
        data_dir=data,
        _env_file=None,
        server=ServerSettings(memory_gateway_url="http://127.0.0.1:9", **server),  # type: ignore[arg-type]
    )
    return dataclasses.replace(state, settings=settings)


async def _planner_keys(state: AppState) -> list[tuple[str, str, bool]]:
    async with state.sessionmaker() as session:
        keys = await KeyService(session).list(include_revoked=True)
    return [(k.name, k.scope, k.revoked_at is None) for k in keys if k.name.startswith("planner")]


async def test_the_planner_apart_makes_a_key_of_its_own_for_the_gateway(
    committed_state: AppState, tmp_path: Path
) -> None:
    """The Planner sent the data folder's admin key, the CLI's: a bulk import that used up
    its rate limit degraded every plan meanwhile."""
    own = _apart(committed_state, tmp_path)
    write_key_file(tmp_path, "alm_the_clis_key")
    app = create_app(state=own, services=["planner"])
    async with app.router.lifespan_context(app):
        path = tmp_path / "planner-gateway-key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        key = path.read_text().strip()
        assert gateway_key(own.settings) == key != "alm_the_clis_key"
    async with committed_state.sessionmaker() as session:
        principal = await KeyService(session).verify(key)
    assert principal is not None and principal.scope == "write"
    assert principal.name == "planner-gateway"

    await ensure_planner_key(own)  # a second start keeps it
    assert path.read_text().strip() == key
    assert await _planner_keys(own) == [("planner-gateway", "write", True)]

    # Revoked by the user: it stays so, and the Planner is not given another behind their back.
    async with committed_state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE name = :n"), {"n": principal.name}
        )
    await ensure_planner_key(own)
    assert path.read_text().strip() == key
    assert await _planner_keys(own) == [("planner-gateway", "write", False)]

    # A key this database does not know (a new database): replaced, under a free name.
    path.write_text("alm_unknown_to_this_database")
    await ensure_planner_key(own)
    assert await _planner_keys(own) == [
        ("planner-gateway", "write", False),
        ("planner-gateway-2", "write", True),
    ]
    assert gateway_key(own.settings) == path.read_text().strip()


async def test_a_configured_gateway_key_or_one_process_makes_no_planner_key(
    committed_state: AppState, tmp_path: Path
) -> None:
    configured = _apart(committed_state, tmp_path, memory_gateway_key=SecretStr("alm_mine"))
    await ensure_planner_key(configured)
    assert gateway_key(configured.settings) == "alm_mine"
    app = create_app(state=_apart(committed_state, tmp_path))  # both services: no Gateway hop
    async with app.router.lifespan_context(app):
        pass
    assert not (tmp_path / "planner-gateway-key").exists()
    assert await _planner_keys(committed_state) == []
