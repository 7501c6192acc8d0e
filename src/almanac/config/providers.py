"""Per-provider settings: one shape per LLM, embedder and calendar provider, chosen by
the section's `provider` (a discriminated union), so a provider's missing setting fails at
start with the variable's name."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
)

from .checks import HttpUrl, MailAddress, NeededHttpUrl, Section

# A setting a provider cannot work without (an empty value is as good as none). Each
# section's `provider` is frozen: another provider is another section object, with what
# that provider needs (`settings.llm = NoLLMSettings()`).
Needed = Annotated[str, Field(min_length=1)]
# Sections whose `provider` chooses one of several shapes: section -> (tag -> class name).
PROVIDER_SECTIONS: dict[str, tuple[str, ...]] = {
    "llm": ("none", "openai"),
    "embedder": ("local", "openai"),
    "calendar": ("builtin", "caldav", "google"),
}


def by_provider(section: str, default: str) -> Discriminator:
    """The discriminator of a per-provider union: the `provider` field, `default` when the
    section does not name one (so an empty environment keeps the default provider)."""

    def tag(value: Any) -> str:
        found = value.get("provider") if isinstance(value, dict) else value.provider
        return str(found or default)

    return Discriminator(
        tag,
        custom_error_type="provider",
        custom_error_message=f"must be one of {', '.join(PROVIDER_SECTIONS[section])}",
    )


class EmbedderBase(Section):
    """What every embedder takes."""

    batch_size: int = Field(default=64, ge=1, le=2048)
    threads: int = Field(default=0, ge=0, le=64)  # 0 = let the runtime decide
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class LocalEmbedderSettings(EmbedderBase):
    """The packaged model2vec model: no network, no key."""

    provider: Literal["local"] = Field(default="local", frozen=True)


class OpenAIEmbedderSettings(EmbedderBase):
    """Any OpenAI-compatible /v1/embeddings endpoint; the vector size is fixed up front
    (the database's index is built for it)."""

    provider: Literal["openai"] = Field(default="openai", frozen=True)
    model: Needed
    dim: int = Field(ge=1, le=16_000)
    base_url: HttpUrl | None = None
    api_key: SecretStr | None = None


# Which embedder turns memories into vectors (`ALMANAC_EMBEDDER__PROVIDER`).
EmbedderSettings = Annotated[
    Annotated[LocalEmbedderSettings, Tag("local")]
    | Annotated[OpenAIEmbedderSettings, Tag("openai")],
    by_provider("embedder", "local"),
]


DEFAULT_BUDGETS: dict[str, float] = {
    "planning": 25.0,
    "preview": 25.0,  # the planning prompt, previewed
    "scheduling": 20.0,
    "reflection": 45.0,
    "extraction": 30.0,
}
DEFAULT_MAX_TOKENS: dict[str, int] = {
    "planning": 1000,
    "preview": 1000,
    "scheduling": 400,
    "reflection": 400,
    "extraction": 300,
}


class LLMBase(Section):
    """How any LLM is used: budgets, retries, the circuit breaker, output negotiation."""

    # Per-operation overrides: planning, scheduling, reflection, extraction.
    models: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_base_seconds: float = Field(default=0.5, ge=0, le=60)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, ge=0, le=3600)
    daily_planning_cap: int = Field(default=50, ge=0)
    # Seconds one operation may take in all (retries and repair included); past it the call
    # is cancelled and the deterministic answer is used. Planning stays well under a minute.
    # Setting some operations keeps the defaults of the others: an operation without a
    # budget would wait out every retry of a wedged server (timeout x attempts).
    budget_seconds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_BUDGETS))
    # `max_tokens` per operation, sized to the answer (a 10-task plan is ~600 tokens). It
    # bounds the server's work too: many servers keep generating for a client that left.
    # Merged with the defaults the same way.
    max_tokens: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_MAX_TOKENS))
    # Stream answers (so a cancelled call still knows what it cost); off for servers that
    # cannot stream.
    stream: bool = True
    # How to ask for JSON first: `auto` negotiates (json_schema → json_object → text, per
    # server and model). `text` suits servers whose JSON grammar is slow (llama-cpp-python
    # samples json_object ~4x slower than free text on a small CPU).
    output_mode: Literal["auto", "json_schema", "json_object", "text"] = "auto"

    @field_validator("budget_seconds", "max_tokens")
    @classmethod
    def _positive(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        defaults = DEFAULT_BUDGETS if info.field_name == "budget_seconds" else DEFAULT_MAX_TOKENS
        for key, number in value.items():
            if key not in defaults:  # a misspelt operation would silently keep its default
                raise ValueError(f"{key!r} is no operation (one of {', '.join(defaults)})")
            if not number or number <= 0:
                raise ValueError(f"{key}: must be greater than 0")
        return {**defaults, **value}


class NoLLMSettings(LLMBase):
    """No LLM (the default): every feature works deterministically and says so."""

    provider: Literal["none"] = Field(default="none", frozen=True)

    @property
    def model(self) -> str | None:
        """No LLM, no model (pages and listings show the configured model per operation)."""
        return None


class OpenAILLMSettings(LLMBase):
    """An OpenAI-compatible chat API (OpenRouter, OpenAI, Ollama, vLLM, llama.cpp server)."""

    provider: Literal["openai"] = Field(default="openai", frozen=True)
    base_url: NeededHttpUrl
    model: Needed
    api_key: SecretStr | None = None


# Which LLM, if any (`ALMANAC_LLM__PROVIDER`).
LLMSettings = Annotated[
    Annotated[NoLLMSettings, Tag("none")] | Annotated[OpenAILLMSettings, Tag("openai")],
    by_provider("llm", "none"),
]


class CalendarBase(Section):
    """What every calendar provider shares: the .ics feed and import bounds, the busy-time
    cache, and the Google OAuth client (connecting Google may come before choosing it)."""

    # Google Calendar: an OAuth web client; tokens are stored encrypted with `token_key`.
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_redirect_uri: str = "http://127.0.0.1:8090/oauth/callback"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    # A Fernet key (urlsafe base64, 32 bytes) encrypting OAuth tokens at rest.
    token_key: SecretStr | None = None
    # How long busy time read from a remote calendar is reused.
    busy_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    # The .ics feed's `?token=`; unset, one is generated into `<data_dir>/ics-feed-token`.
    ics_feed_token: SecretStr | None = None
    # Bounds on one .ics import: occurrences kept, recurrence steps one series walks from
    # DTSTART to the window's end (an RRULE:FREQ=SECONDLY a week back is 600,000), and wall time.
    ics_max_occurrences: int = Field(default=5000, ge=1, le=100_000)
    ics_max_rule_steps: int = Field(default=100_000, ge=1, le=10_000_000)
    ics_time_budget_seconds: float = Field(default=2.0, gt=0, le=60)
    # The user's own calendar addresses (as invitations name them): an invitation one of them
    # declined does not block time, in an .ics import and in a CalDAV read (which also asks
    # the server and takes a login that is an address; Google marks the owner itself).
    user_addresses: list[MailAddress] = Field(default_factory=list, max_length=50)

    @field_validator("ics_feed_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty or short token would make the feed guessable; unset, one is generated.
        if value is not None and len(value.get_secret_value().strip()) < 8:
            raise ValueError("at least 8 characters (unset it to have one generated)")
        return value

    @field_validator("token_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                raw = base64.urlsafe_b64decode(value.get_secret_value().encode())
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError("not a Fernet key (32 bytes, url-safe base64)")
        return value


class BuiltinCalendarSettings(CalendarBase):
    """Events in Postgres, served as an .ics feed: scheduling with no account anywhere."""

    provider: Literal["builtin"] = Field(default="builtin", frozen=True)


class CalDAVCalendarSettings(CalendarBase):
    """A CalDAV calendar collection (Radicale, Nextcloud, iCloud)."""

    provider: Literal["caldav"] = Field(default="caldav", frozen=True)
    caldav_url: NeededHttpUrl
    caldav_username: str | None = None
    caldav_password: SecretStr | None = None


class GoogleCalendarSettings(CalendarBase):
    """Google Calendar through the OAuth client above; its tokens need `token_key`."""

    provider: Literal["google"] = Field(default="google", frozen=True)
    google_client_id: Needed
    google_client_secret: SecretStr
    token_key: SecretStr
    google_calendar_id: str = "primary"
    # Overrides the Google API root (for a self-hosted proxy, or the test double).
    google_api_base_url: HttpUrl | None = None


# Which calendar Almanac reads busy time from and writes its blocks into
# (`ALMANAC_CALENDAR__PROVIDER`; `builtin` by default).
CalendarSettings = Annotated[
    Annotated[BuiltinCalendarSettings, Tag("builtin")]
    | Annotated[CalDAVCalendarSettings, Tag("caldav")]
    | Annotated[GoogleCalendarSettings, Tag("google")],
    by_provider("calendar", "builtin"),
]
