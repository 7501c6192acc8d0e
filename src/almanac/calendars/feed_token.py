"""The .ics feed's secret address: `calendar.ics_feed_token`, else `<data_dir>/ics-feed-token`.

Calendar apps cannot send headers, so the feed takes a token in its URL, like Google
Calendar's "secret address". It is never open: with no token configured, the first start
generates one and keeps it (0600) in the data folder. Deleting that file and restarting
gives a new one (the old URL stops working).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import urlencode

from almanac.config import Settings
from almanac.secret_files import keep_secret

logger = logging.getLogger(__name__)

FEED_TOKEN_FILE = "ics-feed-token"
FEED_PATH = "/api/v1/calendar/feed.ics"


def feed_token_file(data_dir: Path) -> Path:
    return data_dir / FEED_TOKEN_FILE


def ensure_feed_token_file(data_dir: Path) -> str:
    """The token in `<data_dir>/ics-feed-token`, created (0600) when there is none; processes
    starting at once agree on one (`secret_files.keep_secret`)."""
    path = feed_token_file(data_dir)
    token, created = keep_secret(path, lambda: secrets.token_urlsafe(32))
    if created:
        logger.warning("generated the calendar feed's secret token, stored in %s (mode 0600)", path)
    return token


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
