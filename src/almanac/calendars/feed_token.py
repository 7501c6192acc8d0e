"""The .ics feed's secret address: `calendar.ics_feed_token`, else `<data_dir>/ics-feed-token`.

Calendar apps cannot send headers, so the feed takes a token in its URL, like Google
Calendar's "secret address". It is never open: with no token configured, the first start
generates one and keeps it (0600) in the data folder. Deleting that file and restarting
gives a new one (the old URL stops working).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from almanac.config import Settings

logger = logging.getLogger(__name__)

FEED_TOKEN_FILE = "ics-feed-token"
FEED_PATH = "/api/v1/calendar/feed.ics"


def feed_token_file(data_dir: Path) -> Path:
    return data_dir / FEED_TOKEN_FILE


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):  # tighten a file someone loosened
        os.chmod(path, 0o600)
    return text or None


def ensure_feed_token_file(data_dir: Path) -> str:
    """The token in `<data_dir>/ics-feed-token`, created (0600) when there is none.

    Two processes starting at once agree on one token: each writes a complete private
    temporary file and links it into place, which fails for all but the first, who then
    read the winner's token (never a half-written one).
    """
    path = feed_token_file(data_dir)
    found = _read(path)
    if found is not None:
        return found
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{FEED_TOKEN_FILE}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            # Another process won, or an empty file was left behind: keep what is there.
            return _read(path) or _replace_empty(path, tmp, token)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    logger.warning("generated the calendar feed's secret token, stored in %s (mode 0600)", path)
    return token


def _replace_empty(path: Path, tmp: str, token: str) -> str:
    """An empty token file (a user emptied it): replace it, then read what won."""
    os.replace(tmp, path)
    return _read(path) or token


def feed_token(settings: Settings) -> str | None:
    """The token the feed requires: the configured one wins over the data folder's file.

    None only when no token is configured and the data folder cannot be written: the
    feed then answers only to API keys (and says so), it never opens.
    """
    configured = settings.calendar.ics_feed_token
    if configured is not None:
        return configured.get_secret_value()
    try:
        return ensure_feed_token_file(settings.data_dir)
    except OSError as exc:
        logger.error(
            "cannot keep the calendar feed token in %s (%s); the feed accepts only API keys",
            settings.data_dir,
            exc,
        )
        return None


def feed_path(token: str) -> str:
    """The feed's path with its token, for a subscribe URL."""
    return f"{FEED_PATH}?{urlencode({'token': token})}"
