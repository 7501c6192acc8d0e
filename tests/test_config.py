"""Settings: IANA zones only, nested sections from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from almanac.config import Settings


def test_timezone_must_be_an_iana_zone() -> None:
    assert Settings(timezone="Europe/Berlin", _env_file=None).timezone == "Europe/Berlin"  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings(timezone="Mars/Base", _env_file=None)  # type: ignore[call-arg]


def test_nested_sections_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALMANAC_PLANNER__MATCH_THRESHOLD", "0.7")
    monkeypatch.setenv("ALMANAC_CALENDAR__PROVIDER", "caldav")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.planner.match_threshold == 0.7
    assert settings.calendar.provider == "caldav"
