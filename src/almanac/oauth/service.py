"""The Google OAuth web flow: consent URL, code exchange, stored status. Never commits."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from almanac.config import CalendarSettings
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.oauth.crypto import (
    InvalidState,
    OAuthNotConfigured,
    TokenCipher,
    UndecryptableToken,
)
from almanac.oauth.repository import OAuthCredentialRepository
from almanac.oauth.schemas import ConnectedOut, CredentialStatus, OAuthStatusOut

if TYPE_CHECKING:
    from google_auth_oauthlib.flow import Flow

PROVIDER = "google"
# Events to write our blocks; freebusy to read busy time across the calendar.
GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
)
STATE_MAX_AGE_SECONDS = 600
RECONNECT_HINT = "open /oauth/authorize to connect Google Calendar again"
CONNECT_HINT = "open /oauth/authorize to connect it"


def google_client_config(settings: CalendarSettings) -> dict[str, Any]:
    """The `web` client config of google-auth-oauthlib; OAuthNotConfigured if incomplete."""
    missing = [
        name
        for name, value in (
            ("calendar.google_client_id", settings.google_client_id),
            ("calendar.google_client_secret", settings.google_client_secret),
        )
        if not value
    ]
    if missing:
        err = OAuthNotConfigured(
            f"Google OAuth is not configured: set {' and '.join(missing)} "
            "(ALMANAC_CALENDAR__GOOGLE_CLIENT_ID / ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET) "
            "from a Google Cloud 'Web application' OAuth client"
        )
        err.errors = [{"field": m, "message": "not set"} for m in missing]
        raise err
    assert settings.google_client_secret is not None
    return {
        "web": {
            "client_id": settings.google_client_id,
            "client_secret": settings.google_client_secret.get_secret_value(),
            "auth_uri": settings.google_auth_uri,
            "token_uri": settings.google_token_uri,
            "redirect_uris": [settings.google_redirect_uri],
        }
    }


def token_payload(access_token: str | None, refresh_token: str | None) -> dict[str, Any]:
    """What is encrypted into `token_encrypted` (client id/secret stay in settings)."""
    return {"access_token": access_token, "refresh_token": refresh_token}


def _expires_at(token: Mapping[str, Any]) -> datetime | None:
    # requests-oauthlib adds `expires_at` (epoch seconds) when the answer has expires_in.
    value = token.get("expires_at")
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None


def _scopes(token: Mapping[str, Any]) -> list[str]:
    raw = token.get("scope") or list(GOOGLE_SCOPES)
    return raw.split() if isinstance(raw, str) else [str(s) for s in raw]


class SpentStates:
    """States already brought back to /oauth/callback, each until it would expire anyway.

    A state is single use: the callback that brought it back claims it before the code is
    exchanged, so a replayed state (from a browser's history, a log, a second tab) is
    refused even with another code. Kept per process (one Planner serves the flow), so a
    restart forgets them: a state from before it can be brought back once more within its
    ten minutes, with a code Google issued for its PKCE challenge.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def claim(self, state: str, max_age_seconds: float) -> bool:
        """True the first time `state` (what a state holds, not its text) is claimed;
        False when it was already."""
        now = time.monotonic()
        for digest in [d for d, until in self._until.items() if until <= now]:
            del self._until[digest]
        digest = hashlib.sha256(state.encode()).hexdigest()
        if digest in self._until:
            return False
        if len(self._until) >= self.LIMIT:  # minted only by admins: never reached in use
            del self._until[next(iter(self._until))]
        self._until[digest] = now + max_age_seconds
        return True

    def release(self, state: str) -> None:
        """Let `state` be brought back again: its exchange failed before Google took the
        code (unreachable, or a 5xx), so reloading the callback page may still connect."""
        self._until.pop(hashlib.sha256(state.encode()).hexdigest(), None)


SPENT_STATES = SpentStates()


class _TokenEndpointFailed(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"token endpoint answered {status}")
        self.status = status


def _answered(response: Any) -> Any:
    """A compliance hook on the token answer: a 5xx is Google failing, not a refusal of the
    code (oauthlib would read its HTML page as a token answer missing its token)."""
    if response.status_code >= 500:
        raise _TokenEndpointFailed(response.status_code)
    return response


def _scope_changed(warning: Warning) -> bool:
    """oauthlib's "Scope has changed": a bare `Warning` (no subclass names it) carrying the
    token and both scope lists. Any other warning raised as an error is not a consent."""
    return all(hasattr(warning, name) for name in ("token", "old_scope", "new_scope"))


def _granted(warning: Warning) -> dict[str, Any]:
    """The token of an answer whose scopes differ from the ones asked: kept when it still
    holds every scope Almanac needs, else a 400 naming `scope` (nothing is stored)."""
    granted = [str(s) for s in getattr(warning, "new_scope", None) or []]
    missing = [s for s in GOOGLE_SCOPES if s not in granted]
    if missing:
        err = AlmanacError(
            "Google granted only "
            + (", ".join(granted) or "no scope")
            + f"; Almanac needs {' and '.join(GOOGLE_SCOPES)}: {RECONNECT_HINT} and allow "
            "every permission it asks for",
            400,
            errors=[{"field": "scope", "message": f"missing {s}"} for s in missing],
        )
        err.title = "Authorization failed"
        raise err from warning
    return dict(getattr(warning, "token", None) or {})


class OAuthService:
    """Connects Google Calendar: builds the consent URL and stores the tokens it yields."""

    def __init__(self, uow: UnitOfWork, settings: CalendarSettings) -> None:
        self.uow = uow
        self.settings = settings
        self.repo = OAuthCredentialRepository(uow.session)

    def _flow(self, code_verifier: str) -> Flow:
        # Google's client libraries load when a user connects, not when the server starts.
        from google_auth_oauthlib.flow import Flow

        return Flow.from_client_config(
            google_client_config(self.settings),
            scopes=list(GOOGLE_SCOPES),
            redirect_uri=self.settings.google_redirect_uri,
            code_verifier=code_verifier,
            autogenerate_code_verifier=False,
        )

    def authorization_url(self) -> str:
        """Google's consent URL asking for offline access, with a signed, expiring state."""
        cipher = TokenCipher(self.settings.token_key)  # fail now, not after the consent
        # PKCE: the verifier travels inside the encrypted state, so no table is needed.
        verifier = secrets.token_urlsafe(64)[:96]
        flow = self._flow(verifier)
        state = cipher.make_state({"v": verifier, "n": secrets.token_urlsafe(8)})
        url, _ = flow.authorization_url(access_type="offline", prompt="consent", state=state)
        return str(url)

    async def callback(
        self, code: str | None, state: str | None, error: str | None
    ) -> ConnectedOut:
        """Google's redirect back: a refusal, a missing part, or tokens to store."""
        if not state:
            raise InvalidState("state is missing: start at /oauth/authorize")
        if error:
            # The user declined, or Google refused the request; nothing is stored.
            raise AlmanacError(
                f"Google did not grant access ({error}): try again at /oauth/authorize",
                400,
                errors=[{"field": "error", "message": error}],
            )
        if not code:
            raise AlmanacError(
                "code is missing: start at /oauth/authorize",
                400,
                errors=[{"field": "code", "message": "missing"}],
            )
        return await self.complete(code, state)

    async def complete(self, code: str, state: str) -> ConnectedOut:
        """Check `state`, exchange `code` at the token endpoint and store the tokens."""
        cipher = TokenCipher(self.settings.token_key)
        data = cipher.read_state(state, STATE_MAX_AGE_SECONDS)
        # Claimed by what it holds, not its text: many texts read as one state (Fernet's
        # base64 decoding skips characters outside its alphabet, so "state!" was a new one).
        # Checked and claimed with no await between, so of two callbacks at once one wins.
        spent = json.dumps(data, sort_keys=True)
        if not SPENT_STATES.claim(spent, STATE_MAX_AGE_SECONDS):
            raise InvalidState("state has already been used: start again at /oauth/authorize")
        flow = self._flow(str(data.get("v", "")))
        import requests
        from oauthlib.oauth2.rfc6749 import errors as oauth_errors

        flow.oauth2session.register_compliance_hook("access_token_response", _answered)
        try:
            # requests-based and blocking: keep it off the event loop.
            token: dict[str, Any] = await asyncio.to_thread(flow.fetch_token, code=code)
        except Warning as w:
            # oauthlib raises (not warns) when the granted scopes differ from the asked ones:
            # granular consent lets the user untick one, and Google may add others.
            if not _scope_changed(w):
                raise  # not about scopes: an unexpected error, logged as one
            token = _granted(w)
        except _TokenEndpointFailed as e:
            SPENT_STATES.release(spent)
            raise DependencyUnavailable(
                f"Google's token endpoint {self.settings.google_token_uri} answered "
                f"{e.status}: try /oauth/authorize again shortly",
                headers={"Retry-After": "30"},
            ) from e
        except oauth_errors.InsecureTransportError as e:
            raise OAuthNotConfigured(
                f"calendar.google_token_uri must use https: {self.settings.google_token_uri}"
            ) from e
        except oauth_errors.OAuth2Error as e:
            err = AlmanacError(
                f"Google rejected the authorization code ({e.error}): {RECONNECT_HINT}", 400
            )
            err.title = "Authorization failed"
            err.errors = [{"field": "code", "message": str(e.description or e.error)}]
            raise err from e
        except requests.RequestException as e:
            SPENT_STATES.release(spent)
            raise DependencyUnavailable(
                f"cannot reach Google's token endpoint {self.settings.google_token_uri}: {e}"
            ) from e
        refresh = token.get("refresh_token")
        scopes = _scopes(token)
        expires_at = _expires_at(token)
        await self.repo.upsert(
            PROVIDER,
            token_encrypted=cipher.encrypt(token_payload(token.get("access_token"), refresh)),
            scopes=scopes,
            expires_at=expires_at,
        )
        message = "Google Calendar is connected."
        if not refresh:
            message += (
                " Google sent no refresh token, so access ends when this token expires; "
                "remove Almanac at myaccount.google.com/permissions and connect again."
            )
        return ConnectedOut(
            provider=PROVIDER,
            scopes=scopes,
            expires_at=expires_at,
            refresh_token=bool(refresh),
            message=message,
        )

    def _how_to_connect(self) -> str:
        """What connecting takes: /oauth/authorize answers 503 until the client and the
        token key are set, and the status said only to open it."""
        s = self.settings
        missing = [
            env
            for env, value in (
                ("ALMANAC_CALENDAR__GOOGLE_CLIENT_ID", s.google_client_id),
                ("ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET", s.google_client_secret),
                ("ALMANAC_CALENDAR__TOKEN_KEY", s.token_key),
            )
            if not value
        ]
        if not missing:
            return CONNECT_HINT
        return f"set {', '.join(missing)} and restart, then {CONNECT_HINT}"

    async def status(self) -> OAuthStatusOut:
        """The stored credential's status; `not_connected` when there is none."""
        row = await self.repo.get(PROVIDER)
        if row is None:
            return OAuthStatusOut(
                provider=PROVIDER,
                status="not_connected",
                scopes=[],
                expires_at=None,
                # Never connected: "again" would suggest it once was.
                detail=f"Google Calendar is not connected yet: {self._how_to_connect()}",
            )
        status: CredentialStatus = "ok"
        if row.status in ("revoked", "expired", "error"):
            status = row.status  # type: ignore[assignment]  # checked just above
        elif row.expires_at is not None and row.expires_at <= datetime.now(UTC):
            # An expired access token is routine when a refresh token renews it.
            if not self._has_refresh_token(row.token_encrypted):
                status = "expired"
        return OAuthStatusOut(
            provider=PROVIDER,
            status=status,
            scopes=[str(s) for s in row.scopes],
            expires_at=row.expires_at,
            detail=row.status_detail,
        )

    def _has_refresh_token(self, ciphertext: bytes) -> bool:
        try:
            tokens = TokenCipher(self.settings.token_key).decrypt(ciphertext)
        except (OAuthNotConfigured, UndecryptableToken):
            return True  # cannot tell: do not claim it expired
        return bool(tokens.get("refresh_token"))
