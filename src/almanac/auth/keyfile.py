"""The data folder's `api-key` file: the first admin key, and the key local clients send."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from almanac.config import Settings

logger = logging.getLogger(__name__)

KEY_FILE = "api-key"


def key_file(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def write_key_file(data_dir: Path, key: str) -> Path:
    """Write `key` readable by its owner only (0600, whatever the umask or an old file)."""
    path = key_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key + "\n").encode())
    finally:
        os.close(fd)
    return path


def read_key_file(data_dir: Path) -> str | None:
    try:
        text = key_file(data_dir).read_text().strip()
    except OSError:
        return None
    return text or None


def client_key(settings: Settings) -> str | None:
    """The key a local client sends: `ALMANAC_API_KEY`, else the data folder's file."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return read_key_file(settings.data_dir)


def gateway_key(settings: Settings) -> str | None:
    """The key the Planner sends to a separate Memory Gateway."""
    if settings.server.memory_gateway_key is not None:
        return settings.server.memory_gateway_key.get_secret_value()
    return client_key(settings)
