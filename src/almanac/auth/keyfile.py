"""The data folder's key files: `api-key` (the first admin key, which local clients send)
and `planner-gateway-key` (the key the Planner run apart sends to the Memory Gateway)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from almanac.config import Settings

logger = logging.getLogger(__name__)

KEY_FILE = "api-key"
PLANNER_KEY_FILE = "planner-gateway-key"


def key_file(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def write_key_file(data_dir: Path, key: str, name: str = KEY_FILE) -> Path:
    """Write `key` readable by its owner only (0600, whatever the umask or an old file)."""
    path = data_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key + "\n").encode())
    finally:
        os.close(fd)
    return path


def read_key_file(data_dir: Path, name: str = KEY_FILE) -> str | None:
    try:
        text = (data_dir / name).read_text().strip()
    except OSError:
        return None
    return text or None


def client_key(settings: Settings) -> str | None:
    """The key a local client sends: `ALMANAC_API_KEY`, else the data folder's file."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return read_key_file(settings.data_dir)


def gateway_key(settings: Settings) -> str | None:
    """The key the Planner sends to a separate Memory Gateway: the one configured, else its
    own (`auth.bootstrap.ensure_planner_key`), else the local clients' key."""
    if settings.server.memory_gateway_key is not None:
        return settings.server.memory_gateway_key.get_secret_value()
    return read_key_file(settings.data_dir, PLANNER_KEY_FILE) or client_key(settings)
