"""GoogleCalendar driving the real Google client libraries against a local test double."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import LocalCache
from almanac.calendars.base import (
    ApplyResult,
    BusyInterval,
    CalendarConflict,
    CalendarUnavailable,
    EventSpec,
    zone_name,
)
from almanac.calendars.factory import build_calendar
from almanac.calendars.google import GoogleCalendar
from almanac.calendars.google_credentials import NOT_CONNECTED
from almanac.config import GoogleCalendarSettings
from almanac.models.calendar import OAuthCredential
from almanac.oauth.crypto import TokenCipher
from tests.calendars.shapes import BERLIN, KEY, WEEK, at, connect, specs
from tests.doubles.google_calendar import FakeGoogle, hour

EVENTS_PATH = "/calendar/v3/calendars/primary/events"


async def stored(session: AsyncSession) -> OAuthCredential:
    stmt = (
        select(OAuthCredential)
        .where(OAuthCredential.provider == "google")
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


def add_dentist(google: FakeGoogle) -> dict[str, Any]:
    day = date(2026, 3, 2)
    return google.add_event(
        summary="Dentist",
        start=hour(day, 14, tz="Europe/Berlin"),
        end=hour(day, 15, tz="Europe/Berlin"),
    )


@pytest.fixture
async def provider(google_calendar: GoogleCalendar) -> GoogleCalendar:
    return google_calendar


# -- reading ----------------------------------------------------------------------------------


async def test_events_and_busy_read_the_users_calendar(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    add_dentist(google)
    google.add_event(
        summary="Focus (free)",
        start=hour(date(2026, 3, 3), 8),
        end=hour(date(2026, 3, 3), 9),
        transparency="transparent",
    )
    google.add_event(summary="Holiday", start={"date": "2026-03-05"}, end={"date": "2026-03-06"})
    google.add_event(
        summary="Last week", start=hour(date(2026, 2, 20), 8), end=hour(date(2026, 2, 20), 9)
    )

    events = await provider.events(*WEEK)
    assert [e.title for e in events] == ["Dentist", "Focus (free)", "Holiday"]
    dentist, focus, holiday = events
    assert dentist.start == at(2, 14, tz=BERLIN) and zone_name(dentist.start) == "Europe/Berlin"
    assert dentist.almanac_id is None and dentist.busy and dentist.etag
    assert not focus.busy
    assert holiday.all_day and holiday.start == datetime(2026, 3, 5, tzinfo=BERLIN)

    busy = await provider.busy(*WEEK)
    assert busy == [
        BusyInterval(at(2, 13), at(2, 14)),  # 14:00-15:00 Berlin
        BusyInterval(datetime(2026, 3, 4, 23, tzinfo=UTC), datetime(2026, 3, 5, 23, tzinfo=UTC)),
    ]
    assert len(google.api_requests("POST", "/freeBusy")) == 1


async def test_an_event_ending_before_it_starts_is_read_swapped(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    """Read as CalDAV and the import read it (`base.event_span`): from the earlier time to
    the later, not as a zero-length event that leaves the meeting's time free."""
    day = date(2026, 3, 2)
    google.add_event(summary="Backwards", start=hour(day, 12), end=hour(day, 10))
    [event] = await provider.events(*WEEK)
    assert (event.start, event.end, event.busy) == (at(2, 10), at(2, 12), True)


async def test_an_invitation_the_owner_declined_does_not_block(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    def invitation(summary: str, day: int, mine: str, theirs: str) -> None:
        google.add_event(
            summary=summary,
            start=hour(date(2026, 3, day), 10),
            end=hour(date(2026, 3, day), 11),
            attendees=[
                {"email": "me@example.com", "self": True, "responseStatus": mine},
                {"email": "client@example.com", "responseStatus": theirs},
            ],
        )

    invitation("Declined by me", 2, "declined", "accepted")
    invitation("Accepted by me", 3, "accepted", "declined")  # another's "no" is theirs
    invitation("Not answered", 4, "needsAction", "accepted")

    events = await provider.events(*WEEK)
    assert [(e.title, e.busy) for e in events] == [
        ("Declined by me", False),
        ("Accepted by me", True),
        ("Not answered", True),
    ]
    assert await provider.busy(*WEEK) == [
        BusyInterval(at(3, 10), at(3, 11)),
        BusyInterval(at(4, 10), at(4, 11)),
    ]


async def test_events_follow_pages(provider: GoogleCalendar, google: FakeGoogle) -> None:
    for i in range(260):  # more than one page of 250
        start = at(2, 0) + timedelta(minutes=10 * i)
        google.add_event(
            summary=f"e{i}",
            start={"dateTime": start.isoformat(), "timeZone": "UTC"},
            end={"dateTime": (start + timedelta(minutes=5)).isoformat(), "timeZone": "UTC"},
        )
    events = await provider.events(*WEEK)
    assert len(events) == 260
    assert len(google.api_requests("GET", EVENTS_PATH)) == 2


async def test_busy_is_cached_until_our_own_write(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    add_dentist(google)
    first = await provider.busy(*WEEK)
    google.add_event(
        summary="Late", start=hour(date(2026, 3, 6), 9), end=hour(date(2026, 3, 6), 10)
    )
    assert await provider.busy(*WEEK) == first  # within the TTL: served from the cache
    assert len(google.api_requests("POST", "/freeBusy")) == 1

    await provider.apply(specs(), *WEEK)  # our write invalidates the cached busy time
    after = await provider.busy(*WEEK)
    assert len(google.api_requests("POST", "/freeBusy")) == 2
    assert BusyInterval(at(6, 9), at(6, 10)) in after and len(after) == 5


# -- writing ----------------------------------------------------------------------------------


async def test_apply_creates_through_one_batch_and_reads_back(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    result = await provider.apply(specs(), *WEEK)
    assert sorted(result.created) == ["t1", "t2", "t3"]
    assert result.updated == result.deleted == result.unchanged == []

    inserts = google.api_requests("POST", EVENTS_PATH)
    assert len(inserts) == 3 and all(r.in_batch for r in inserts)
    assert len(google.api_requests("POST", "/batch/calendar/v3")) == 1
    marks = {e["extendedProperties"]["private"]["almanacId"] for e in google.live_events()}
    assert marks == {"t1", "t2", "t3"}  # the read-back itself is in the provider contract


async def test_apply_twice_creates_nothing_and_never_touches_the_users_event(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    dentist = add_dentist(google)
    await provider.apply(specs(), *WEEK)
    batches = len(google.api_requests("POST", "/batch/calendar/v3"))

    again = await provider.apply(specs(), *WEEK)
    assert again == ApplyResult(created=[], updated=[], deleted=[], unchanged=["t1", "t2", "t3"])
    assert len(google.api_requests("POST", "/batch/calendar/v3")) == batches  # nothing sent
    assert len(google.live_events()) == 4

    # Remove everything Almanac placed: the user's event stays exactly as it was.
    emptied = await provider.apply([], *WEEK)
    assert sorted(emptied.deleted) == ["t1", "t2", "t3"]
    (left,) = google.live_events()
    assert left["id"] == dentist["id"] and left["etag"] == dentist["etag"]
    touched = [r for r in google.requests if dentist["id"] in r.path]
    assert touched == []


async def test_apply_updates_changed_and_deletes_dropped_events(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    await provider.apply(specs(), *WEEK)
    t1, t2, _ = specs()
    moved = EventSpec("t1", "Write report v2", at(2, 11, tz=BERLIN), at(2, 12, tz=BERLIN))
    result = await provider.apply([moved, t2], *WEEK)
    assert (result.created, result.updated, result.deleted, result.unchanged) == (
        [],
        ["t1"],
        ["t3"],
        ["t2"],
    )
    patches = google.api_requests("PATCH")
    assert len(patches) == 1 and patches[0].in_batch
    events = {e.almanac_id: e for e in await provider.events(*WEEK)}
    assert set(events) == {"t1", "t2"}
    assert (events["t1"].title, events["t1"].start, events["t1"].description) == (
        "Write report v2",
        moved.start,
        "",
    )


async def test_a_stale_etag_is_a_conflict(provider: GoogleCalendar, google: FakeGoogle) -> None:
    await provider.apply(specs(), *WEEK)
    google.fail(412, "conditionNotMet", match="PATCH")
    changed = [EventSpec("t1", "Changed", at(2, 9), at(2, 10)), *specs()[1:]]
    with pytest.raises(CalendarConflict):
        await provider.apply(changed, *WEEK)


# -- backoff ----------------------------------------------------------------------------------


async def test_backoff_recovers_from_429_on_a_read(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    add_dentist(google)
    google.fail(429, "rateLimitExceeded", times=2, match=f"GET {EVENTS_PATH}")
    events = await provider.events(*WEEK)
    assert [e.title for e in events] == ["Dentist"]
    assert len(google.api_requests("GET", EVENTS_PATH)) == 3


async def test_backoff_recovers_from_403_rate_limit_inside_a_batch(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    # The first insert of the batch is throttled; the others land on the first try.
    google.fail(403, "rateLimitExceeded", match=f"POST {EVENTS_PATH}")

    result = await provider.apply(specs(), *WEEK)
    assert sorted(result.created) == ["t1", "t2", "t3"]
    assert len(google.live_events()) == 3  # retried once, duplicated nothing
    assert len(google.api_requests("POST", "/batch/calendar/v3")) == 2
    assert len(google.api_requests("POST", EVENTS_PATH)) == 4


async def test_backoff_recovers_from_429_on_the_whole_batch(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    google.fail(429, match="POST /batch/calendar/v3")
    result = await provider.apply(specs(), *WEEK)
    assert sorted(result.created) == ["t1", "t2", "t3"]
    assert len(google.live_events()) == 3


async def test_persistent_500_gives_up_with_calendar_unavailable(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    google.fail(500, "backendError", times=100)
    with pytest.raises(CalendarUnavailable, match="HTTP 500"):
        await provider.events(*WEEK)
    assert len(google.api_requests("GET", EVENTS_PATH)) == provider.max_attempts


async def test_a_forbidden_calendar_is_not_retried(
    provider: GoogleCalendar, google: FakeGoogle
) -> None:
    google.fail(403, "forbidden", times=10)
    with pytest.raises(CalendarUnavailable, match="denied access"):
        await provider.events(*WEEK)
    assert len(google.api_requests("GET", EVENTS_PATH)) == 1


# -- credentials ------------------------------------------------------------------------------


async def test_refreshed_token_is_saved_encrypted(
    provider: GoogleCalendar, google: FakeGoogle, db_session: AsyncSession
) -> None:
    before = await stored(db_session)
    old_bytes = before.token_encrypted
    google.expire_access_tokens()  # the stored access token now answers 401

    await provider.events(*WEEK)

    assert [r["grant_type"] for r in google.token_requests] == ["refresh_token"]
    row = await stored(db_session)
    (new_access,) = google.access_tokens
    assert row.token_encrypted != old_bytes
    assert new_access.encode() not in row.token_encrypted
    tokens = TokenCipher(KEY).decrypt(row.token_encrypted)
    assert tokens["access_token"] == new_access
    assert tokens["refresh_token"].encode() not in row.token_encrypted
    assert row.expires_at is not None and row.expires_at > datetime.now(UTC)
    assert row.status == "ok"


async def test_expired_access_token_is_refreshed_before_the_call(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    old_access, _ = await connect(db_session, google, expires_in=-timedelta(minutes=5))
    cal = GoogleCalendar(cal_settings, session=db_session, cache=LocalCache(), base_delay=0.001)
    try:
        await cal.events(*WEEK)
    finally:
        await cal.close()
    assert [r["grant_type"] for r in google.token_requests] == ["refresh_token"]
    assert len(google.api_requests("GET", EVENTS_PATH)) == 1  # refreshed first: no 401
    row = await stored(db_session)
    saved = TokenCipher(KEY).decrypt(row.token_encrypted)["access_token"]
    assert saved != old_access and saved in google.access_tokens


async def test_revoked_refresh_token_marks_the_credential_and_says_reconnect(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    _, refresh = await connect(db_session, google)
    google.revoke(refresh)
    cal = GoogleCalendar(cal_settings, session=db_session, cache=LocalCache(), base_delay=0.001)
    with pytest.raises(CalendarUnavailable, match="/oauth/authorize") as info:
        await cal.events(*WEEK)
    assert "revoked" in info.value.message and info.value.status_code == 503
    row = await stored(db_session)
    assert row.status == "revoked" and "invalid_grant" in (row.status_detail or "")

    # Later calls stop at the stored status, without asking Google again.
    asked = len(google.token_requests)
    again = GoogleCalendar(cal_settings, session=db_session, cache=LocalCache())
    with pytest.raises(CalendarUnavailable, match="reconnect at /oauth/authorize"):
        await again.busy(*WEEK)
    assert len(google.token_requests) == asked


async def test_not_connected_is_a_clear_error(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    cal = build_calendar(cal_settings, session=db_session, cache=LocalCache())
    assert isinstance(cal, GoogleCalendar)
    assert google.requests == []  # building it did no I/O
    with pytest.raises(CalendarUnavailable) as info:
        await cal.check()
    assert (
        info.value.message
        == NOT_CONNECTED
        == ("Google Calendar is not connected: open /oauth/authorize")
    )


async def test_check_passes_when_connected(provider: GoogleCalendar) -> None:
    await provider.check()


async def test_missing_token_key_is_reported_not_crashed(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    await connect(db_session, google)
    no_key = cal_settings.model_copy(update={"token_key": None})
    cal = GoogleCalendar(no_key, session=db_session, cache=LocalCache())
    with pytest.raises(CalendarUnavailable, match="token_key"):
        await cal.events(*WEEK)
