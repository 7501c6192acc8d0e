"""Encryption of OAuth tokens at rest, and the signed, expiring `state` of the web flow.

Both use Fernet (AES-128-CBC plus HMAC-SHA256, with a timestamp) keyed by
`calendar.token_key`, so the state needs no table: it is verified and aged by decryption.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from almanac.errors import AlmanacError, DependencyUnavailable

_STATE_PURPOSE = "almanac-oauth-state"
_TOKEN_PURPOSE = "almanac-oauth-token"
GENERATE_HINT = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class OAuthNotConfigured(DependencyUnavailable, title="OAuth not configured"):
    """A setting the OAuth flow needs (client id/secret, token key) is missing or invalid."""


class InvalidState(AlmanacError, title="Invalid OAuth state"):
    """The `state` of an OAuth callback is forged, tampered with or expired."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[{"field": "state", "message": message}])


class UndecryptableToken(Exception):
    """Stored ciphertext does not decrypt with the current key (rotated or corrupted)."""


class TokenCipher:
    """Encrypts token payloads and web-flow states with one Fernet key."""

    def __init__(self, key: SecretStr | str | None) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        if not raw:
            raise OAuthNotConfigured(
                "calendar.token_key (ALMANAC_CALENDAR__TOKEN_KEY) is not set; it encrypts "
                f"OAuth tokens at rest: {GENERATE_HINT}"
            )
        try:
            self._fernet = Fernet(raw.encode())
        except (ValueError, TypeError) as e:
            raise OAuthNotConfigured(
                "calendar.token_key is not a valid Fernet key (32 bytes, url-safe base64): "
                f"{GENERATE_HINT}"
            ) from e

    def encrypt(self, payload: dict[str, Any]) -> bytes:
        """Ciphertext of a JSON-able token payload."""
        return self._fernet.encrypt(_dump({"p": _TOKEN_PURPOSE, "d": payload}))

    def decrypt(self, token: bytes) -> dict[str, Any]:
        """The payload `encrypt` made; UndecryptableToken if the key or bytes do not fit."""
        try:
            data = json.loads(self._fernet.decrypt(token))
        except (InvalidToken, ValueError) as e:
            raise UndecryptableToken("stored OAuth token cannot be decrypted") from e
        if not isinstance(data, dict) or data.get("p") != _TOKEN_PURPOSE:
            raise UndecryptableToken("stored OAuth token has an unexpected shape")
        payload: dict[str, Any] = data["d"]
        return payload

    def make_state(self, data: dict[str, Any], *, issued_at: int | None = None) -> str:
        """An opaque state carrying `data` (kept secret: it holds the PKCE verifier).

        `issued_at` (epoch seconds, default now) lets tests make an already expired state.
        """
        plain = _dump({"p": _STATE_PURPOSE, "d": data})
        if issued_at is None:
            return self._fernet.encrypt(plain).decode()
        return self._fernet.encrypt_at_time(plain, issued_at).decode()

    def read_state(self, state: str, max_age_seconds: int) -> dict[str, Any]:
        """The data of a state made by `make_state`; InvalidState if forged or too old."""
        try:
            data = json.loads(self._fernet.decrypt(state.encode(), ttl=max_age_seconds))
        except (InvalidToken, ValueError, UnicodeError) as e:
            # Fernet does not say whether the signature or the age failed, on purpose.
            raise InvalidState(
                "state is invalid or has expired: start again at /oauth/authorize"
            ) from e
        # A stored token encrypted with the same key must not pass as a state.
        if not isinstance(data, dict) or data.get("p") != _STATE_PURPOSE:
            raise InvalidState("state was not issued by /oauth/authorize")
        result: dict[str, Any] = data["d"]
        return result


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
