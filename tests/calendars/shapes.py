"""What every calendar test shares: the week, the zones, the three blocks Almanac writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import EventSpec
from almanac.oauth.crypto import TokenCipher
from almanac.oauth.repository import OAuthCredentialRepository
from almanac.oauth.service import token_payload
from tests.doubles.google_calendar import SCOPES, FakeGoogle

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEK = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0, tz: Any = UTC) -> datetime:
    """A moment in March 2026."""
    return datetime(2026, 3, day, hour, minute, tzinfo=tz)


def specs() -> list[EventSpec]:
    """Three blocks in three zones (Berlin with a description, New York, UTC)."""
    return [
        EventSpec("t1", "Write report", at(2, 9, tz=BERLIN), at(2, 10, 30, tz=BERLIN), "draft"),
        EventSpec("t2", "Call NY", at(3, 9, tz=NEW_YORK), at(3, 10, tz=NEW_YORK)),
        EventSpec("t3", "Review", at(4, 13), at(4, 14)),
    ]


# A user's .ics file: a dentist appointment and a weekly gym session in Berlin time.
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
    "BEGIN:VEVENT\r\nUID:dentist-1\r\nDTSTART:20260303T090000Z\r\nDTEND:20260303T100000Z\r\n"
    "SUMMARY:Dentist\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:gym\r\nDTSTART;TZID=Europe/Berlin:20260302T180000\r\n"
    "DTEND;TZID=Europe/Berlin:20260302T190000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
    "SUMMARY:Gym\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)

KEY = Fernet.generate_key().decode()  # encrypts the stored Google tokens in these tests


async def connect(
    session: AsyncSession, google: FakeGoogle, expires_in: timedelta = timedelta(hours=1)
) -> tuple[str, str]:
    """Store a Google token pair as the OAuth callback would."""
    access, refresh = google.grant()
    await OAuthCredentialRepository(session).upsert(
        "google",
        token_encrypted=TokenCipher(KEY).encrypt(token_payload(access, refresh)),
        scopes=list(SCOPES),
        expires_at=datetime.now(UTC) + expires_in,
    )
    await session.flush()
    return access, refresh
