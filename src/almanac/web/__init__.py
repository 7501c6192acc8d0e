"""The web dashboard: server-rendered page shells whose scripts call the same REST API."""

from almanac.web.headers import SecurityHeaders
from almanac.web.routes import mount

__all__ = ["SecurityHeaders", "mount"]
