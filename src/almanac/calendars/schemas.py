"""Request and response shapes of the built-in calendar's API (/api/v1/calendar)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from almanac.calendars.base import almanac_id_from_uid, calendar_text
from almanac.calendars.vevent import DESCRIPTION_CHARS, TITLE_CHARS
from almanac.types import VISIBLE, AwareDatetime, SafeStr, Strict

When = AwareDatetime
# Control characters cleaned as EventSpec and the feed clean them (`calendar_text`): stored
# as given, a title holding a VT or an ESC came back from the API and the dashboard as it was.
CalendarText = AfterValidator(calendar_text)
Title = Annotated[SafeStr, Field(min_length=1, max_length=TITLE_CHARS), CalendarText, VISIBLE]
Description = Annotated[SafeStr, Field(max_length=DESCRIPTION_CHARS), CalendarText]
Key = Annotated[SafeStr, Field(min_length=1, max_length=255)]


class _Ordered(Strict):
    """Checks `end` > `start` on subclasses that declare `start` before `end`."""

    @field_validator("end", check_fields=False)
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        # A field validator on `end`, so the error names `end` rather than the whole body.
        start = info.data.get("start")
        if end is not None and isinstance(start, datetime) and end <= start:
            raise ValueError("end must be after start")
        return end


class EventIn(_Ordered):
    """A user event to add to the built-in calendar."""

    title: Title
    start: When
    end: When
    description: Description = ""
    busy: bool = True
    # Stored as the event's UID: a retry with the same key returns the same event.
    idempotency_key: Key | None = None

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must contain non-whitespace text")
        return value

    @field_validator("idempotency_key")
    @classmethod
    def _not_almanac_uid(cls, value: str | None) -> str | None:
        # UIDs of that shape mark Almanac's own blocks; a user event must never look like one.
        if value is not None and almanac_id_from_uid(value) is not None:
            raise ValueError("must not have the form almanac-...@almanac (reserved for blocks)")
        return value


class WindowQuery(_Ordered):
    """A [start, end) window of aware datetimes."""

    start: When
    end: When


class OptionalWindow(_Ordered):
    """A window whose ends may be left to defaults (the feed's and the import's)."""

    start: When | None = None
    end: When | None = None


class EventOut(BaseModel):
    """An event of the built-in calendar; `source` says whose it is."""

    id: int
    uid: str
    title: str
    description: str
    start: datetime
    end: datetime
    all_day: bool
    busy: bool
    almanac_id: str | None
    sequence: int
    source: Literal["user", "almanac"]


class DeletedEventOut(BaseModel):
    id: int
    uid: str


class ImportOut(BaseModel):
    """What an import did: counts of user events and what it left alone."""

    created: int
    updated: int
    removed: int = Field(
        0,
        description="Occurrences of the file's recurring events it no longer has in the "
        "window (an EXDATE added, the series ended), removed",
    )
    unchanged: int
    skipped: int = Field(
        description="Occurrences without a start, and Almanac's own blocks (never imported)"
    )
    window_start: datetime
    window_end: datetime
    notes: list[str] = Field(
        default_factory=list,
        description="Series repeating so often they were imported as continuous busy "
        "stretches, and events lasting over a year, kept only within the window",
    )


class FeedUrlOut(BaseModel):
    """The feed's secret subscribe address (a credential: shown to admins only)."""

    url: str
    path: str
    # "setting": ALMANAC_CALENDAR__ICS_FEED_TOKEN; "data_folder": <data_dir>/ics-feed-token.
    token_source: Literal["setting", "data_folder"]
