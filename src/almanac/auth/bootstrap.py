"""First start: an admin key written to the data folder, so one command is enough; and the
Planner's own key for a Memory Gateway run apart."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.auth.keyfile import PLANNER_KEY_FILE, read_key_file, write_key_file
from almanac.auth.repository import AuthRepository
from almanac.auth.schemas import KeyCreatedOut
from almanac.auth.service import KeyService, ensure_admin_key
from almanac.state import AppState

logger = logging.getLogger(__name__)


async def ensure_first_key(state: AppState) -> None:
    """Create an admin key when there is no active one, and store it in `<data_dir>/api-key`."""
    async with state.sessionmaker() as session:
        created = await ensure_admin_key(session)
        if created is None:
            await session.rollback()
            return
        # The file first: a key nobody can read would lock the user out.
        path = write_key_file(state.settings.data_dir, created.key)
        await session.commit()
    logger.warning(
        "no admin API key existed: created key %r (scope admin), stored in %s (mode 0600); "
        "the CLI on this data folder uses it; more keys: almanac keys create",
        created.name,
        path,
    )


PLANNER_KEY_NAME = "planner-gateway"


async def ensure_planner_key(state: AppState) -> None:
    """Give the Planner run apart a key of its own for the Memory Gateway (scope write),
    kept in `<data_dir>/planner-gateway-key`, unless `server.memory_gateway_key` names one.

    It sent the data folder's admin key, which the CLI sends too: a bulk import that used
    up that key's rate limit made every plan meanwhile "degraded" (no memory). A key the
    user revoked stays revoked (the Gateway refuses the Planner, and /health says so); one
    this database does not know (a new database) is replaced."""
    settings = state.settings
    if settings.server.memory_gateway_url is None or settings.server.memory_gateway_key is not None:
        return
    async with state.sessionmaker() as session:
        await AuthRepository(session).lock_first_key()  # processes starting together
        keys = KeyService(session)
        kept = read_key_file(settings.data_dir, PLANNER_KEY_FILE)
        if kept is not None and await keys.verify(kept) is not None:
            await session.rollback()
            return
        if kept is not None and await keys.revoked(kept):
            await session.rollback()
            logger.warning(
                "the Planner's key in %s was revoked: the Memory Gateway refuses the Planner "
                "until that file is deleted (a new key is made at the next start) or "
                "ALMANAC_SERVER__MEMORY_GATEWAY_KEY names another",
                settings.data_dir / PLANNER_KEY_FILE,
            )
            return
        created = await keys.create(await keys.free_name(PLANNER_KEY_NAME), "write")
        path = write_key_file(settings.data_dir, created.key, PLANNER_KEY_FILE)
        await session.commit()
    logger.info(
        "the Planner's key for the Memory Gateway: %r (scope write), in %s", created.name, path
    )


async def rekey_restored(
    sessionmaker: async_sessionmaker[AsyncSession], data_dir: Path
) -> KeyCreatedOut | None:
    """After a restore: the data folder's admin key, when the restored database does not
    know it (another machine's backup), replaced by a new admin key in both; None when it
    knows it or the folder has none. The CLI and `almanac mcp` send that file's key: after
    restoring another machine's backup every call was a 401. A key the backup holds as
    revoked stays revoked (its owner revoked it there)."""
    kept = read_key_file(data_dir)
    if kept is None:
        return None
    async with sessionmaker() as session:
        await AuthRepository(session).lock_first_key()
        keys = KeyService(session)
        if await keys.verify(kept) is not None or await keys.revoked(kept):
            await session.rollback()
            return None
        created = await keys.create(await keys.free_name("admin-restored"), "admin")
        write_key_file(data_dir, created.key)
        await session.commit()
    return created
