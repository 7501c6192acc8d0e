"""Settings: one object, nested sections, read from `ALMANAC_*` variables.

`ALMANAC_DATABASE__URL`-style nesting uses `__`; the common top-level names
(`ALMANAC_DATABASE_URL`, `ALMANAC_VALKEY_URL`, `ALMANAC_DATA_DIR`) are accepted too.
"""

from __future__ import annotations

import re
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .checks import HttpUrl, PostgresUrl, Section, ValkeyUrl
from .memory import MemorySettings, SearchSettings
from .problems import ConfigurationError, configured_secrets, env_name, problem_line
from .providers import (
    PROVIDER_SECTIONS,
    BuiltinCalendarSettings,
    CalDAVCalendarSettings,
    CalendarSettings,
    EmbedderSettings,
    GoogleCalendarSettings,
    LLMSettings,
    LocalEmbedderSettings,
    NoLLMSettings,
    OpenAIEmbedderSettings,
    OpenAILLMSettings,
)

# Its own sections and the provider settings (defined in `providers`).
__all__ = [
    "BuiltinCalendarSettings",
    "CacheSettings",
    "CalDAVCalendarSettings",
    "CalendarSettings",
    "ConfigurationError",
    "DatabaseSettings",
    "EmbedderSettings",
    "GoogleCalendarSettings",
    "JobsSettings",
    "LLMSettings",
    "LocalEmbedderSettings",
    "MemorySettings",
    "NoLLMSettings",
    "OpenAIEmbedderSettings",
    "OpenAILLMSettings",
    "PROVIDER_SECTIONS",
    "PlannerSettings",
    "SchedulerSettings",
    "SearchSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "ZepSettings",
    "configured_secrets",
    "env_name",
    "load_settings",
    "problem_line",
]


# How much longer than the statement timeout the client waits when not told otherwise.
COMMAND_TIMEOUT_MARGIN_SECONDS = 5.0


class DatabaseSettings(Section):
    """Postgres connection; no URL means an embedded server in the data folder."""

    url: PostgresUrl | None = None
    pool_size: int = Field(default=10, ge=1, le=200)
    echo: bool = False
    # How long a new connection may take before the request answers 503.
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    # Connections beyond pool_size when busy (None: as many again as pool_size).
    max_overflow: int | None = Field(default=None, ge=0, le=200)
    # How long a request waits for a free pooled connection before answering 503.
    pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # A request's statements are cancelled (503) after this. Jobs, migrations and index
    # builds are never limited (almanac.db.limits).
    statement_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # The longest the client waits for any one statement's answer before it drops the
    # connection (503 `DatabaseUnavailable`): what bounds a server that is paused or hung
    # rather than down, which cannot enforce its own statement timeout. Requests and jobs;
    # migrations and index builds at start are not limited. Must exceed the statement
    # timeout, so a live server's own cancel (which keeps the connection) comes first;
    # unset, at least that timeout plus COMMAND_TIMEOUT_MARGIN_SECONDS.
    command_timeout_seconds: float = Field(default=65.0, gt=0, le=3600)
    # The embedded server's shared_buffers; None: a quarter of memory within [128, 512] MB
    # (almanac.db.embedded_memory).
    embedded_shared_buffers_mb: int | None = Field(default=None, ge=16, le=65_536)

    @field_validator("command_timeout_seconds")
    @classmethod
    def _after_the_server(cls, value: float, info: ValidationInfo) -> float:
        statement = info.data.get("statement_timeout_seconds")
        if isinstance(statement, float | int) and value <= statement:
            raise ValueError(
                f"must be longer than statement_timeout_seconds ({statement:g}): the server's"
                " own limit keeps the connection usable, the client's drops it"
            )
        return value

    @model_validator(mode="after")
    def _follow_the_server(self) -> DatabaseSettings:
        # Unset (so not checked above), it follows a statement timeout configured above the
        # default (valid before this limit existed) rather than undercutting it.
        if "command_timeout_seconds" not in self.model_fields_set:
            self.command_timeout_seconds = max(
                self.command_timeout_seconds,
                self.statement_timeout_seconds + COMMAND_TIMEOUT_MARGIN_SECONDS,
            )
        return self


class CacheSettings(Section):
    """Recall cache: Valkey when a URL is set, in-process otherwise."""

    valkey_url: ValkeyUrl | None = None
    recall_ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86_400)
    socket_timeout_seconds: float = Field(default=0.25, gt=0, le=60)
    # After a failure, Valkey is left alone for this long before it is tried again.
    retry_after_seconds: float = Field(default=5.0, ge=0, le=3600)
    local_max_entries: int = Field(default=10_000, ge=0)
    # Without Valkey: keep the in-process cache's generations in Postgres, so several
    # processes on one database never serve what another changed or forgot.
    shared_generations: bool = True


class PlannerSettings(Section):
    """How intents become plans."""

    # A library workflow becomes the skeleton when its match score (0..1) reaches this.
    match_threshold: float = Field(default=0.65, ge=0, le=1)
    # Focused hours a day one person gives a plan: the deadline plausibility check.
    hours_per_day: float = Field(default=6.0, gt=0, le=24)
    # Estimates learnt from past runs ("calibrated") or the library's as written ("library");
    # a plan request can ask for either. See planner/calibration.py.
    estimates: Literal["calibrated", "library"] = "calibrated"
    # Runs lose half their weight per this many days (chosen in bench/learning_loop.py).
    calibration_half_life_days: float = Field(default=56.0, gt=0, le=3650)
    # A workflow's history is used once it has this many completed task runs (the old
    # server-wide switch: a huge value means library estimates only).
    calibration_min_runs: int = Field(default=1, ge=1)
    recall_k: int = Field(default=8, ge=0, le=50)
    # Load the starter workflow library at start (new workflows added, unedited ones updated).
    starter_library: bool = True


class SchedulerSettings(Section):
    """Defaults for placing tasks; preferences from memory refine them."""

    time_limit_seconds: float = Field(default=3.0, gt=0, le=120)
    slot_minutes: int = Field(default=15, ge=5, le=60)
    workday_start: time = time(9, 0)
    workday_end: time = Field(default=time(17, 0), validate_default=True)
    # ISO weekdays (1 = Monday) that are working days.
    working_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], min_length=1
    )
    buffer_minutes: int = Field(default=0, ge=0, le=120)
    daily_max_hours: float | None = Field(default=None, gt=0, le=24)
    frozen_hours: float = Field(default=0.0, ge=0, le=24 * 366)
    # How long a schedule write waits for another one to finish before answering 503.
    write_lock_timeout_seconds: float = Field(default=20.0, gt=0, le=600)

    @field_validator("workday_start", "workday_end")
    @classmethod
    def _naive_clock(cls, value: time) -> time:
        # Working hours are wall-clock times in Settings.timezone, never with an offset.
        if value.tzinfo is not None:
            raise ValueError("must be a time of day without an offset, e.g. 09:00")
        return value

    @field_validator("workday_end")
    @classmethod
    def _end_after_start(cls, value: time, info: ValidationInfo) -> time:
        # Equal or reversed hours leave no working time: every schedule call would fail.
        start = info.data.get("workday_start")
        if isinstance(start, time) and value <= start:
            raise ValueError(f"must be later than workday_start ({start:%H:%M})")
        return value

    @field_validator("daily_max_hours")
    @classmethod
    def _within_the_day(cls, value: float | None, info: ValidationInfo) -> float | None:
        start, end = info.data.get("workday_start"), info.data.get("workday_end")
        if value is not None and isinstance(start, time) and isinstance(end, time):
            hours = (end.hour * 60 + end.minute - start.hour * 60 - start.minute) / 60
            if value > hours:
                raise ValueError(f"must be at most the working day's {hours:g} hours")
        return value


class ServerSettings(Section):
    """Where `almanac serve` listens and how the Planner reaches the Gateway."""

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    memory_port: int = Field(default=8090, ge=1, le=65535)
    planner_port: int = Field(default=8091, ge=1, le=65535)
    # When set, the Planner API talks to a Memory Gateway at this URL over HTTP.
    memory_gateway_url: HttpUrl | None = None
    # The key the Planner sends to that Gateway (default: its own, auth.bootstrap).
    memory_gateway_key: SecretStr | None = None
    # The longest one call to that Gateway may take; past it (or refused, or a 5xx) the
    # feature goes on without memory and says so (plans: `degraded: ["memory"]`).
    memory_gateway_timeout_seconds: float = Field(default=5.0, gt=0, le=120)

    @field_validator("planner_port")
    @classmethod
    def _apart(cls, value: int, info: ValidationInfo) -> int:
        if value == info.data.get("memory_port"):
            raise ValueError("must differ from memory_port (the services run apart on both)")
        return value


class SecuritySettings(Section):
    """API keys, dashboard sessions, rate limits and the browser-facing checks."""

    # Host names (besides localhost, 127.0.0.1, ::1 and `server.host`) the API answers to;
    # any other Host header is refused, which stops DNS rebinding.
    allowed_hosts: list[str] = Field(default_factory=list)
    # Origins allowed to call the API from a browser (CORS); empty keeps CORS closed.
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    max_ics_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=1024**3)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # A verified key is trusted this long per process before it is looked up again: a key
    # revoked through another process stops working within this time (at once in this one).
    key_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Key usage (last used, count) is kept in memory and written at most this often.
    usage_flush_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Per key, in the `limits` notation ("600/minute", "10/second;600/minute").
    rate_limit: str = "600/minute"
    write_rate_limit: str = "120/minute"
    # Per client address: requests with a wrong key (each costs a database lookup).
    failed_auth_limit: str = "60/minute"

    @field_validator("rate_limit", "write_rate_limit", "failed_auth_limit")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit (e.g. '600/minute')") from None
        return value


class JobsSettings(Section):
    """The job queue (procrastinate) and the clock; cron times are in `Settings.timezone`."""

    # `almanac serve` (one process) runs a worker inside itself unless this is off.
    embedded_worker: bool = True
    concurrency: int = Field(default=2, ge=1, le=64)
    # Queues a worker takes jobs from; empty means every queue.
    queues: list[str] = Field(default_factory=list)
    daily_reflection_cron: str = "0 18 * * *"
    weekly_review_cron: str = "0 18 * * 5"
    retention_cron: str = "30 3 * * *"
    # Re-reads the calendar and replans scheduled plans a new event now collides with.
    calendar_sync_cron: str = "*/15 * * * *"
    # Events older than this that never became facts are archived and deleted.
    retention_days: int = Field(default=90, ge=1, le=36_500)
    retention_batch: int = Field(default=500, ge=1, le=10_000)
    # How often the clock checks for due periodic jobs and stalled jobs.
    clock_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Fallback polling; new jobs normally arrive through LISTEN/NOTIFY.
    poll_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # A worker silent for this long is dead and its running jobs are retried.
    stalled_after_seconds: float = Field(default=60.0, gt=0, le=86_400)

    @field_validator(
        "daily_reflection_cron", "weekly_review_cron", "retention_cron", "calendar_sync_cron"
    )
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (e.g. '0 18 * * *')")
        return value


class ZepSettings(Section):
    """Zep Cloud, an optional second memory: off unless `api_key` is set."""

    api_key: SecretStr | None = None
    # Overrides the SDK's default (https://api.getzep.com/api/v2), e.g. for a proxy.
    base_url: HttpUrl | None = None
    # Memories at or above this salience are also sent to Zep (through the job queue).
    salience_threshold: float = Field(default=0.7, ge=0, le=1)
    # Recall waits this long for Zep, then answers from Postgres alone and says so.
    recall_budget_ms: int = Field(default=300, ge=10, le=10_000)
    # The user a memory without a client belongs to in Zep; clients are `client-<id>`.
    default_user_id: str = "user"
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})


class Settings(BaseSettings):
    """All of Almanac's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ALMANAC_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("almanac")),
        validation_alias=AliasChoices("ALMANAC_DATA_DIR", "data_dir"),
    )
    # The user's IANA time zone: working hours, "today" and daily caps are in it.
    timezone: str = "UTC"
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    embedder: EmbedderSettings = LocalEmbedderSettings()
    search: SearchSettings = SearchSettings()
    memory: MemorySettings = MemorySettings()
    llm: LLMSettings = NoLLMSettings()
    planner: PlannerSettings = PlannerSettings()
    calendar: CalendarSettings = BuiltinCalendarSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    server: ServerSettings = ServerSettings()
    jobs: JobsSettings = JobsSettings()
    security: SecuritySettings = SecuritySettings()
    zep: ZepSettings = ZepSettings()

    # Flat aliases for the names people type most.
    database_url: PostgresUrl | None = Field(
        default=None, validation_alias=AliasChoices("ALMANAC_DATABASE_URL", "database_url")
    )
    valkey_url: ValkeyUrl | None = Field(
        default=None, validation_alias=AliasChoices("ALMANAC_VALKEY_URL", "valkey_url")
    )
    # The key the CLI sends to a running server (default: the data folder's `api-key`).
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ALMANAC_API_KEY", "api_key")
    )

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        # The zone folder also holds what is no IANA name: the machine's own link and the
        # posix/ and right/ copies ("localtime" read as whatever the host was set to).
        odd = value in _NOT_IANA or value.startswith(("posix/", "right/"))
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            odd = True
        if odd:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")
        return value

    @cached_property
    def effective_database_url(self) -> str | None:
        """The configured Postgres URL, from either spelling, or None for embedded."""
        return self.database_url or self.database.url

    @cached_property
    def effective_valkey_url(self) -> str | None:
        """The configured Valkey URL, from either spelling, or None for in-process."""
        return self.valkey_url or self.cache.valkey_url


def load_settings() -> Settings:
    """Settings from the environment, or ConfigurationError saying which variable is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [problem_line(e) for e in exc.errors()]
        raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    except SettingsError as exc:
        # A list or mapping variable that is not JSON fails before validation, naming only
        # its section (`field "security"`).
        found = re.search(r'field "(\w+)"', str(exc))
        where = f"ALMANAC_{found.group(1).upper()}" if found else "ALMANAC_*"
        raise ConfigurationError(
            f"invalid configuration:\n  {where}: a list or mapping setting there is not JSON"
            ' (e.g. ["a.example", "b.example"] or {"planning": 20})'
        ) from None
