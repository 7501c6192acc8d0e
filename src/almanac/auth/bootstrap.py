"""First start: an admin key written to the data folder, so one command is enough."""

from __future__ import annotations

import logging

from almanac.auth.keyfile import write_key_file
from almanac.auth.service import ensure_admin_key
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
