"""Request and response bodies of /api/v1/auth."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from almanac.auth.principal import Scope

KeyName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="letters, digits, '.', '_' and '-'",
    ),
]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName
    scope: Scope


class KeyOut(BaseModel):
    """A key as listed: never the key itself, only its prefix and last four characters."""

    name: str
    scope: Scope
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    use_count: int
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    """The new key, shown this once."""

    key: str


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(min_length=1, max_length=200)]


class SessionOut(BaseModel):
    csrf_token: str
    scope: Scope
    name: str
    expires_at: datetime


class MeOut(BaseModel):
    name: str
    scope: Scope
    via: str = Field(description="key or session")
    # The dashboard is rendered in this zone; MCP and Open WebUI read it here to show times
    # as the user's wall clock rather than UTC.
    timezone: str = Field(description="the user's IANA time zone (ALMANAC_TIMEZONE)")
