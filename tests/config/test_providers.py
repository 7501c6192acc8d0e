"""Per-provider settings are a discriminated union on `provider`: each provider's section
has what that provider needs, checked when the settings are read (the factories match on
the section's type: tests/llm/test_factory.py, tests/embedder/test_openai_compat.py)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from almanac.config import (
    BuiltinCalendarSettings,
    CalDAVCalendarSettings,
    ConfigurationError,
    GoogleCalendarSettings,
    LocalEmbedderSettings,
    NoLLMSettings,
    OpenAIEmbedderSettings,
    OpenAILLMSettings,
    Settings,
    load_settings,
)

KEY = Fernet.generate_key().decode()


def read(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for name in list(os.environ):
        if name.startswith("ALMANAC_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tempfile.gettempdir())  # no .env file
    return load_settings()


@pytest.mark.parametrize(
    ("env", "section", "kind", "values"),
    [
        ({}, "llm", NoLLMSettings, {"provider": "none", "model": None}),
        (  # a URL left over from another provider does not make an LLM
            {"ALMANAC_LLM__BASE_URL": "http://h/v1"},
            "llm",
            NoLLMSettings,
            {"provider": "none"},
        ),
        (
            {
                "ALMANAC_LLM__PROVIDER": "openai",
                "ALMANAC_LLM__BASE_URL": "http://h/v1",
                "ALMANAC_LLM__MODEL": "m",
                "ALMANAC_LLM__TIMEOUT_SECONDS": "7",
            },
            "llm",
            OpenAILLMSettings,
            {"base_url": "http://h/v1", "model": "m", "timeout_seconds": 7.0},
        ),
        ({}, "embedder", LocalEmbedderSettings, {"provider": "local", "batch_size": 64}),
        (
            {
                "ALMANAC_EMBEDDER__PROVIDER": "openai",
                "ALMANAC_EMBEDDER__MODEL": "e",
                "ALMANAC_EMBEDDER__DIM": "16",
            },
            "embedder",
            OpenAIEmbedderSettings,
            {"model": "e", "dim": 16, "base_url": None},
        ),
        ({}, "calendar", BuiltinCalendarSettings, {"provider": "builtin"}),
        (
            {"ALMANAC_CALENDAR__PROVIDER": "caldav", "ALMANAC_CALENDAR__CALDAV_URL": "http://c/"},
            "calendar",
            CalDAVCalendarSettings,
            {"caldav_url": "http://c/", "caldav_username": None},
        ),
        (
            {
                "ALMANAC_CALENDAR__PROVIDER": "google",
                "ALMANAC_CALENDAR__GOOGLE_CLIENT_ID": "id",
                "ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET": "secret",
                "ALMANAC_CALENDAR__TOKEN_KEY": KEY,
            },
            "calendar",
            GoogleCalendarSettings,
            {"google_client_id": "id", "google_calendar_id": "primary"},
        ),
        (  # the OAuth client may be set up before Google becomes the provider
            {"ALMANAC_CALENDAR__GOOGLE_CLIENT_ID": "id", "ALMANAC_CALENDAR__TOKEN_KEY": KEY},
            "calendar",
            BuiltinCalendarSettings,
            {"google_client_id": "id"},
        ),
    ],
)
def test_each_provider_reads_its_own_section(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    section: str,
    kind: type,
    values: dict[str, Any],
) -> None:
    got = getattr(read(monkeypatch, env), section)
    assert type(got) is kind
    assert {name: getattr(got, name) for name in values} == values


@pytest.mark.parametrize(
    ("env", "lines"),
    [
        (
            {"ALMANAC_LLM__PROVIDER": "openai"},
            [
                "ALMANAC_LLM__BASE_URL: required when ALMANAC_LLM__PROVIDER=openai",
                "ALMANAC_LLM__MODEL: required when ALMANAC_LLM__PROVIDER=openai",
            ],
        ),
        (
            {
                "ALMANAC_LLM__PROVIDER": "openai",
                "ALMANAC_LLM__BASE_URL": "",
                "ALMANAC_LLM__MODEL": "m",
            },
            ["ALMANAC_LLM__BASE_URL: required when ALMANAC_LLM__PROVIDER=openai (got '')"],
        ),
        (
            {"ALMANAC_LLM__PROVIDER": "anthropic"},
            ["ALMANAC_LLM__PROVIDER: must be one of none, openai (got 'anthropic')"],
        ),
        (
            {"ALMANAC_EMBEDDER__PROVIDER": "openai", "ALMANAC_EMBEDDER__MODEL": "e"},
            ["ALMANAC_EMBEDDER__DIM: required when ALMANAC_EMBEDDER__PROVIDER=openai"],
        ),
        (
            {
                "ALMANAC_EMBEDDER__PROVIDER": "openai",
                "ALMANAC_EMBEDDER__MODEL": "e",
                "ALMANAC_EMBEDDER__DIM": "0",
            },
            [
                "ALMANAC_EMBEDDER__DIM: Input should be greater than or equal to 1 (got '0')",
            ],
        ),
        (
            {"ALMANAC_EMBEDDER__PROVIDER": "onnx"},
            ["ALMANAC_EMBEDDER__PROVIDER: must be one of local, openai (got 'onnx')"],
        ),
        (
            {"ALMANAC_CALENDAR__PROVIDER": "caldav"},
            ["ALMANAC_CALENDAR__CALDAV_URL: required when ALMANAC_CALENDAR__PROVIDER=caldav"],
        ),
        (
            {"ALMANAC_CALENDAR__PROVIDER": "google", "ALMANAC_CALENDAR__GOOGLE_CLIENT_ID": "id"},
            [
                "ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET: required when "
                "ALMANAC_CALENDAR__PROVIDER=google",
                "ALMANAC_CALENDAR__TOKEN_KEY: required when ALMANAC_CALENDAR__PROVIDER=google",
            ],
        ),
        (
            {
                "ALMANAC_CALENDAR__PROVIDER": "google",
                "ALMANAC_CALENDAR__GOOGLE_CLIENT_ID": "id",
                "ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET": "secret",
                "ALMANAC_CALENDAR__TOKEN_KEY": "too-short",
            },
            [
                "ALMANAC_CALENDAR__TOKEN_KEY: not a Fernet key (32 bytes, url-safe base64) "
                "(got 'too-short')"
            ],
        ),
        (
            {"ALMANAC_CALENDAR__PROVIDER": "outlook"},
            ["ALMANAC_CALENDAR__PROVIDER: must be one of builtin, caldav, google (got 'outlook')"],
        ),
    ],
)
def test_an_incomplete_or_unknown_provider_names_each_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], lines: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        read(monkeypatch, env)
    assert str(info.value).splitlines()[1:] == [f"  {line}" for line in lines]


def test_another_provider_is_another_section_object() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="frozen"):
        settings.llm.provider = "openai"  # type: ignore[assignment]
    settings.llm = OpenAILLMSettings(base_url="http://h/v1", model="m")
    assert settings.llm.model == "m"
