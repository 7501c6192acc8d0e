"""Google Calendar's OAuth credentials: read from `oauth_credentials`, decrypted with
`calendar.token_key`, and a refreshed or revoked token written back in its own transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars import google_api as api
from almanac.calendars.base import CalendarUnavailable
from almanac.config import GoogleCalendarSettings
from almanac.oauth.crypto import OAuthNotConfigured, TokenCipher, UndecryptableToken
from almanac.oauth.repository import OAuthCredentialRepository
from almanac.oauth.service import PROVIDER, google_client_config, token_payload

RECONNECT = "reconnect at /oauth/authorize"
NOT_CONNECTED = "Google Calendar is not connected: open /oauth/authorize"


class GoogleCredentials:
    """One account's tokens and the API client built on them, loaded on first use."""

    def __init__(
        self, settings: GoogleCalendarSettings, session: AsyncSession, account: str, timeout: float
    ) -> None:
        self.settings = settings
        self.account = account
        self.timeout = timeout
        self._session = session
        self._service: Any = None
        self._credentials: Any = None
        self._saved: tuple[str | None, str | None] = (None, None)

    async def service(self) -> Any:
        """Load and decrypt the stored tokens and build the client, once."""
        if self._service is not None:
            return self._service
        row = await OAuthCredentialRepository(self._session).get(PROVIDER, self.account)
        if row is None:
            raise CalendarUnavailable(NOT_CONNECTED)
        if row.status == "revoked":
            raise CalendarUnavailable(
                f"Google Calendar access was revoked ({row.status_detail}): {RECONNECT}"
            )
        try:
            client = google_client_config(self.settings)["web"]
            tokens = TokenCipher(self.settings.token_key).decrypt(row.token_encrypted)
        except OAuthNotConfigured as e:
            raise CalendarUnavailable(e.message) from e
        except UndecryptableToken as e:
            raise CalendarUnavailable(
                "the stored Google tokens cannot be decrypted with calendar.token_key "
                f"(was the key changed?): {RECONNECT}"
            ) from e
        expiry = row.expires_at
        self._credentials = Credentials(  # type: ignore[no-untyped-call]
            token=tokens.get("access_token"),
            refresh_token=tokens.get("refresh_token"),
            token_uri=self.settings.google_token_uri,
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            # google-auth compares expiry as naive UTC.
            expiry=expiry.astimezone(UTC).replace(tzinfo=None) if expiry else None,
        )
        self._saved = (tokens.get("access_token"), tokens.get("refresh_token"))
        root = self.settings.google_api_base_url
        self._service = await asyncio.to_thread(
            api.build_service, self._credentials, root, self.timeout
        )
        return self._service

    async def _write_credential(
        self, action: Callable[[OAuthCredentialRepository], Awaitable[None]]
    ) -> None:
        """Record token changes in their own transaction.

        A refresh or a revocation happened at Google whatever becomes of the request, so it
        must survive the request's rollback (the error we raise next causes one).
        """
        bind = self._session.bind
        if bind is None:
            await action(OAuthCredentialRepository(self._session))
            await self._session.flush()
            return
        async with AsyncSession(bind=bind, expire_on_commit=False) as own:
            await action(OAuthCredentialRepository(own))
            await own.commit()

    async def save_refreshed(self) -> None:
        """Store the access (and refresh) token google-auth obtained, if it changed."""
        creds = self._credentials
        if creds is None or (creds.token, creds.refresh_token) == self._saved:
            return
        pair = (creds.token, creds.refresh_token)
        ciphertext = TokenCipher(self.settings.token_key).encrypt(token_payload(*pair))
        expires_at = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None

        async def save(repo: OAuthCredentialRepository) -> None:
            await repo.save_tokens(
                PROVIDER, token_encrypted=ciphertext, expires_at=expires_at, account=self.account
            )

        await self._write_credential(save)
        self._saved = pair

    async def refresh_failed(self, error: RefreshError) -> CalendarUnavailable:
        """Map a failed token refresh; invalid_grant marks the credential revoked."""
        data = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
        if data.get("error") != "invalid_grant" and "invalid_grant" not in str(error):
            return CalendarUnavailable(f"cannot refresh the Google access token: {error}")
        detail = f"invalid_grant: {data.get('error_description') or error}"

        async def revoke(repo: OAuthCredentialRepository) -> None:
            await repo.set_status(PROVIDER, "revoked", detail, self.account)

        await self._write_credential(revoke)
        self._service = None  # the next call reloads, and stops at the revoked status
        return CalendarUnavailable(
            f"Google Calendar access was revoked or has expired ({detail}): {RECONNECT}"
        )

    def release(self) -> Any:
        """The client built so far (None if none), forgotten: the next call builds another."""
        service, self._service = self._service, None
        return service
