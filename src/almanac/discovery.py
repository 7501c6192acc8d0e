"""Where a running server listens, recorded in its data folder for the CLI to find.

`almanac serve` writes `server.json` (or `server-memory.json` / `server-planner.json` when
it runs one service) once it listens, and removes it when it stops. The CLI reads it
before it would touch the database itself, so it never writes behind a server's back.
Standard library only: the CLI's fast path imports this.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServerRecord:
    """One running (or crashed) server as it described itself."""

    url: str
    host: str
    port: int
    pid: int
    services: tuple[str, ...]
    path: Path
    # The server's ALMANAC_TIMEZONE: the CLI reads typed times on it unless told otherwise.
    timezone: str | None = None

    def alive(self) -> bool:
        """Whether the recorded process still exists."""
        return pid_alive(self.pid)


def record_name(services: list[str] | tuple[str, ...]) -> str:
    if set(services) >= {"memory", "planner"}:
        return "server.json"
    return f"server-{'-'.join(services)}.json"


def write_record(
    data_dir: Path, host: str, port: int, services: list[str], timezone: str | None = None
) -> Path:
    """Record this process as the server of `data_dir` (atomically, readable by the user only)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in connect_host and not connect_host.startswith("["):
        connect_host = f"[{connect_host}]"
    body = {
        "url": f"http://{connect_host}:{port}",
        "host": host,
        "port": port,
        "pid": os.getpid(),
        "services": list(services),
        "timezone": timezone,
    }
    path = data_dir / record_name(services)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh)
    tmp.replace(path)
    return path


def remove_record(path: Path) -> None:
    """Remove the record if it is still this process's (a newer server may own it now)."""
    record = _read(path)
    if record is not None and record.pid == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> ServerRecord | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return ServerRecord(
            url=str(data["url"]),
            host=str(data["host"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            services=tuple(str(s) for s in data["services"]),
            path=path,
            timezone=str(data["timezone"]) if data.get("timezone") else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_record(data_dir: Path, service: str) -> ServerRecord | None:
    """The server recorded in `data_dir` that serves `service`, if any (alive or not)."""
    for name in ("server.json", f"server-{service}.json"):
        record = _read(data_dir / name)
        if record is not None and service in record.services:
            return record
    return None


def write_worker_record(data_dir: Path) -> Path:
    """Record this process as a job worker of `data_dir` (`almanac worker`; several may run):
    import and restore must not write behind its back either."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"worker-{os.getpid()}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"pid": os.getpid()}, fh)
    return path


def live_workers(data_dir: Path) -> list[int]:
    """The pids of the job workers recorded in `data_dir` that still run (a record a
    crashed worker left is removed)."""
    pids = []
    for path in sorted(data_dir.glob("worker-*.json")):
        try:
            pid = int(json.loads(path.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid_alive(pid):
            pids.append(pid)
        else:
            path.unlink(missing_ok=True)
    return pids


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
