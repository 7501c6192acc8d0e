"""What is wrong with settings, worded for the person who set them, and which values are
secret."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .providers import PROVIDER_SECTIONS

# scheme://user:password@ -> scheme://user:***@. The password runs to the first `@`, `/` and
# `#` included, as the database URL's parser reads it (redact.mask_url stops at `/`).
_URL_PASSWORD = re.compile(r"^(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^@]*@")

if TYPE_CHECKING:
    from almanac.config import Settings


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings, to mask wherever it might be echoed."""
    values = [
        getattr(settings.calendar, "caldav_password", None),
        settings.calendar.google_client_secret,
        settings.calendar.token_key,
        settings.calendar.ics_feed_token,
        getattr(settings.llm, "api_key", None),
        getattr(settings.embedder, "api_key", None),
    ]
    return [v.get_secret_value() for v in values if v is not None]


class ConfigurationError(Exception):
    """Settings that cannot work; the message names each environment variable at fault."""


def env_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable that sets the setting at `loc`."""
    name = "__".join(str(p).upper() for p in loc if not isinstance(p, int))
    # A flat alias (`ALMANAC_VALKEY_URL`) is its own variable's name already.
    return name if name.startswith("ALMANAC_") else "ALMANAC_" + name


def problem_line(error: Any) -> str:
    """One validation error as `VARIABLE: reason (got value)`.

    In a per-provider section the error's location holds the provider's tag, which no
    variable spells: it is dropped, and a missing or empty setting says which provider
    needs it.
    """
    loc = tuple(error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    if error["type"] == "provider":  # an unknown provider: the section's `provider` is at fault
        loc, got = (*loc, "provider"), got.get("provider") if isinstance(got, dict) else got
    elif len(loc) > 2 and loc[0] in PROVIDER_SECTIONS and loc[1] in PROVIDER_SECTIONS[loc[0]]:
        section, tag, loc = loc[0], loc[1], (loc[0], *loc[2:])
        if error["type"] in ("missing", "string_too_short"):
            msg = f"required when {env_name((section, 'provider'))}={tag}"
    if isinstance(got, str):  # a refused URL's password must not reach a terminal or a log
        got = _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", got)
    shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
    return f"{env_name(loc)}: {msg}{shown}"
