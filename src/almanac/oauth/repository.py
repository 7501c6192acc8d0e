"""SQL for `oauth_credentials`. Nothing else writes SQL for OAuth credentials."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert

from almanac.db.repository import Repository
from almanac.models.calendar import OAuthCredential

DEFAULT_ACCOUNT = "default"


class OAuthCredentialRepository(Repository):
    """One row per (provider, account): the encrypted token set and its status.

    Rows are found by (provider, account), not by id, and written by upsert."""

    async def get(self, provider: str, account: str = DEFAULT_ACCOUNT) -> OAuthCredential | None:
        """The stored credential, or None when the provider was never connected."""
        stmt = select(OAuthCredential).where(
            OAuthCredential.provider == provider, OAuthCredential.account == account
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def upsert(
        self,
        provider: str,
        *,
        token_encrypted: bytes,
        scopes: Sequence[str],
        expires_at: datetime | None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        """Store a fresh token set (a new consent): replaces the old one and resets status."""
        table = cast(Table, OAuthCredential.__table__)
        values: dict[str, Any] = {
            "provider": provider,
            "account": account,
            "token_encrypted": token_encrypted,
            "scopes": list(scopes),
            "expires_at": expires_at,
            "status": "ok",
            "status_detail": None,
        }
        stmt = insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            constraint="uq_oauth_credentials_provider_account",
            set_={
                "token_encrypted": stmt.excluded.token_encrypted,
                "scopes": stmt.excluded.scopes,
                "expires_at": stmt.excluded.expires_at,
                "status": "ok",
                "status_detail": None,
                "updated_at": func.now(),
            },
        )
        await self.session.execute(stmt)

    async def save_tokens(
        self,
        provider: str,
        *,
        token_encrypted: bytes,
        expires_at: datetime | None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        """Replace the tokens after a refresh, keeping scopes; status back to ok."""
        await self.session.execute(
            update(OAuthCredential)
            .where(OAuthCredential.provider == provider, OAuthCredential.account == account)
            .values(
                token_encrypted=token_encrypted,
                expires_at=expires_at,
                status="ok",
                status_detail=None,
            )
            .execution_options(synchronize_session=False)
        )

    async def set_status(
        self, provider: str, status: str, detail: str | None, account: str = DEFAULT_ACCOUNT
    ) -> None:
        """Record that the credential is revoked, expired or failing (shown by /oauth/status)."""
        await self.session.execute(
            update(OAuthCredential)
            .where(OAuthCredential.provider == provider, OAuthCredential.account == account)
            .values(status=status, status_detail=detail)
            .execution_options(synchronize_session=False)
        )
