"""API shapes of the OAuth endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

CredentialStatus = Literal["ok", "revoked", "expired", "error", "not_connected"]


class ConnectedOut(BaseModel):
    """The answer of a successful /oauth/callback."""

    provider: str
    status: Literal["connected"] = "connected"
    scopes: list[str]
    expires_at: datetime | None
    refresh_token: bool  # whether Google sent one (without it access ends at expires_at)
    message: str


class OAuthStatusOut(BaseModel):
    """The stored credential's state, without any secret."""

    provider: str
    status: CredentialStatus
    scopes: list[str]
    expires_at: datetime | None
    detail: str | None = None
