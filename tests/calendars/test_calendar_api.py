"""The built-in calendar's HTTP API: events, import and the .ics feed (real Postgres)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import EventSpec, event_uid
from almanac.calendars.builtin import BuiltinCalendar
from almanac.calendars.feed_token import FEED_TOKEN_FILE
from almanac.calendars.ics_limits import MAX_ICS_BYTES
from almanac.state import AppState
from tests.calendars.shapes import ICS
from tests.conftest import app_in_transaction, http_client

BASE = "/api/v1/calendar"
WEEK = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
WINDOW = {"start": WEEK[0].isoformat(), "end": WEEK[1].isoformat()}


def event_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Dentist",
        "start": "2026-03-03T09:00:00+01:00",
        "end": "2026-03-03T10:00:00+01:00",
    }
    return {**body, **overrides}


def fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json().get("errors", [])]


async def add_blocks(session: AsyncSession) -> None:
    await BuiltinCalendar(session).apply(
        [
            EventSpec("t1", "Write report", WEEK[0].replace(hour=9), WEEK[0].replace(hour=10)),
            EventSpec(
                "t2", "Review", WEEK[0].replace(day=4, hour=9), WEEK[0].replace(day=4, hour=10)
            ),
        ],
        *WEEK,
    )


async def test_create_list_and_delete_a_user_event(calendar_client: httpx.AsyncClient):
    r = await calendar_client.post(f"{BASE}/events", json=event_body(description="check-up"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["source"] == "user" and created["almanac_id"] is None
    # The same instant; fixed offsets have no zone name, so they come back in UTC.
    assert created["start"] == "2026-03-03T08:00:00Z"
    assert created["sequence"] == 0 and created["busy"] is True

    r = await calendar_client.get(f"{BASE}/events", params=WINDOW)
    assert r.status_code == 200 and [e["id"] for e in r.json()] == [created["id"]]

    r = await calendar_client.delete(f"{BASE}/events/{created['id']}")
    assert r.status_code == 200 and r.json() == {"id": created["id"], "uid": created["uid"]}
    r = await calendar_client.delete(f"{BASE}/events/{created['id']}")
    assert r.status_code == 404
    assert (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json() == []


async def test_control_characters_are_cleaned_on_the_way_in(calendar_client: httpx.AsyncClient):
    """A VT or an ESC in a title came back from the API as it was sent (only the feed
    cleaned them): stored cleaned, as EventSpec and the feed clean them, by the API and by
    an import alike."""
    body = event_body(title="Call\x0bwith\x1b\x1bclient\x85", description="agenda\x07\r\nnext")
    r = await calendar_client.post(f"{BASE}/events", json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["title"], r.json()["description"]) == ("Call with client ", "agenda \nnext")
    # A retry with the same key and the same (uncleaned) body is still the same event.
    keyed = {**body, "idempotency_key": "k-ctl"}
    first = await calendar_client.post(f"{BASE}/events", json=keyed)
    again = await calendar_client.post(f"{BASE}/events", json=keyed)
    assert (first.status_code, again.status_code) == (201, 200), again.text

    dirty = ICS.replace("SUMMARY:Dentist", "SUMMARY:Den\x1b[31mtist\x0b")
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=dirty, headers=CAL)
    assert r.status_code == 200, r.text
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    dentist = next(e for e in listed if e["uid"] == "dentist-1")
    assert dentist["title"] == "Den [31mtist "
    titles = [e["title"] + e["description"] for e in listed]
    assert not any(c < " " and c != "\n" or "\x7f" <= c <= "\x9f" for t in titles for c in t)


async def test_idempotency_key_returns_the_same_event_with_200(
    calendar_client: httpx.AsyncClient,
):
    first = await calendar_client.post(f"{BASE}/events", json=event_body(idempotency_key="k-1"))
    again = await calendar_client.post(f"{BASE}/events", json=event_body(idempotency_key="k-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and first.json()["uid"] == "k-1"
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    assert len(listed) == 1


async def test_idempotency_key_reused_for_another_event_is_409(
    calendar_client: httpx.AsyncClient,
):
    first = await calendar_client.post(f"{BASE}/events", json=event_body(idempotency_key="k-2"))
    assert first.status_code == 201, first.text
    # The same instants written in another offset are the same event: a retry.
    same = event_body(
        idempotency_key="k-2", start="2026-03-03T08:00:00Z", end="2026-03-03T09:00:00Z"
    )
    assert (await calendar_client.post(f"{BASE}/events", json=same)).status_code == 200
    for change in ({"title": "Doctor"}, {"end": "2026-03-03T11:00:00+01:00"}, {"busy": False}):
        r = await calendar_client.post(
            f"{BASE}/events", json=event_body(idempotency_key="k-2", **change)
        )
        assert r.status_code == 409, (change, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert "k-2" in r.json()["detail"]
        # It names what the retry changed, as remember's 409 does (it named nothing).
        assert [e["field"] for e in r.json()["errors"]] == list(change), r.text
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    assert [(e["title"], e["busy"]) for e in listed] == [("Dentist", True)]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "2026-03-03T09:00:00"}, "start"),
        ({"end": "2026-03-03T10:00:00"}, "end"),
        ({"end": "2026-03-03T08:00:00+01:00"}, "end"),
        ({"end": "2026-03-03T09:00:00+01:00"}, "end"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": "nul\u0000"}, "title"),
        ({"title": "\u001b\u0007 \u000b"}, "title"),  # nothing but control characters
        ({"start": "0001-01-01T00:00:00+01:00"}, "start"),
        ({"idempotency_key": "almanac-t1@almanac"}, "idempotency_key"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_events_are_422_naming_the_field(
    calendar_client: httpx.AsyncClient, overrides: dict[str, Any], field: str
):
    r = await calendar_client.post(f"{BASE}/events", json=event_body(**overrides))
    assert r.status_code == 422, r.text
    assert fields(r) == [field]


async def test_list_needs_an_aware_ordered_window(calendar_client: httpx.AsyncClient):
    r = await calendar_client.get(f"{BASE}/events", params={**WINDOW, "start": "2026-03-02T00:00"})
    assert r.status_code == 422 and fields(r) == ["start"]
    r = await calendar_client.get(f"{BASE}/events", params={**WINDOW, "end": WINDOW["start"]})
    assert r.status_code == 422 and fields(r) == ["end"]
    r = await calendar_client.get(f"{BASE}/events", params={"start": WINDOW["start"]})
    assert r.status_code == 422 and fields(r) == ["end"]


async def test_deleting_an_almanac_block_is_a_conflict(
    calendar_client: httpx.AsyncClient, db_session: AsyncSession
):
    await add_blocks(db_session)
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    assert [e["source"] for e in listed] == ["almanac", "almanac"]
    r = await calendar_client.delete(f"{BASE}/events/{listed[0]['id']}")
    assert r.status_code == 409 and "replan" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["event_id"]
    assert len((await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()) == 2


async def test_feed_is_icalendar_with_our_uids(
    calendar_client: httpx.AsyncClient, db_session: AsyncSession
):
    await add_blocks(db_session)
    await calendar_client.post(f"{BASE}/events", json=event_body(idempotency_key="mine"))
    r = await calendar_client.get(f"{BASE}/feed.ics", params=WINDOW)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    uids = {str(v["UID"]): v for v in cal.walk("VEVENT")}
    assert set(uids) == {event_uid("t1"), event_uid("t2"), "mine"}
    assert str(uids[event_uid("t1")]["X-ALMANAC-ID"]) == "t1"

    # Polled every few minutes: unchanged, a 304 on its ETag (the file was sent each time);
    # HEAD answers as GET does, without the file (it was a 405).
    etag = r.headers["etag"]
    again = await calendar_client.get(
        f"{BASE}/feed.ics", params=WINDOW, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    head = await calendar_client.head(f"{BASE}/feed.ics", params=WINDOW)
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""
    await calendar_client.post(f"{BASE}/events", json=event_body(idempotency_key="later"))
    changed = await calendar_client.get(
        f"{BASE}/feed.ics", params=WINDOW, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag

    # Events that ended before `start` are left out.
    r = await calendar_client.get(f"{BASE}/feed.ics", params={"start": "2026-03-05T00:00:00Z"})
    assert {str(v["UID"]) for v in icalendar.Calendar.from_ical(r.content).walk("VEVENT")} == set()
    r = await calendar_client.get(f"{BASE}/feed.ics", params={"start": "2026-03-02"})
    assert r.status_code == 422 and fields(r) == ["start"]


async def test_feed_defaults_to_the_last_30_days_on(calendar_client: httpx.AsyncClient):
    now = datetime.now(UTC)
    for key, days in (("old", -40), ("recent", -20), ("soon", 1), ("far", 400)):
        start = now + timedelta(days=days)
        body = event_body(
            idempotency_key=key,
            start=start.isoformat(),
            end=(start + timedelta(hours=1)).isoformat(),
        )
        assert (await calendar_client.post(f"{BASE}/events", json=body)).status_code == 201
    r = await calendar_client.get(f"{BASE}/feed.ics")
    uids = {str(v["UID"]) for v in icalendar.Calendar.from_ical(r.content).walk("VEVENT")}
    assert uids == {"recent", "soon", "far"}


def _with(state: AppState, data_dir: Path, token: str | None = None) -> AppState:
    """`state` with its own data folder and, when given, a configured feed token."""
    calendar = state.settings.calendar.model_copy(
        update={"ics_feed_token": SecretStr(token) if token else None}
    )
    settings = state.settings.model_copy(update={"data_dir": data_dir, "calendar": calendar})
    return dataclasses.replace(state, settings=settings)


async def test_feed_without_a_configured_token_is_never_open(
    state: AppState, db_session: AsyncSession, tmp_path: Path
):
    own = _with(state, tmp_path / "data")
    async with http_client(app_in_transaction(own, db_session), key=None) as anon:
        r = await anon.get(f"{BASE}/feed.ics")
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert "token" in r.json()["detail"]
        generated = (tmp_path / "data" / FEED_TOKEN_FILE).read_text().strip()
        assert len(generated) >= 40
        for wrong in ("anything", generated[:-1], generated + "x", ""):
            r = await anon.get(f"{BASE}/feed.ics", params={"token": wrong})
            assert r.status_code == 401, wrong
        # A wrong key is no key: still the token or nothing.
        r = await anon.get(f"{BASE}/feed.ics", headers={"X-API-Key": "alm_" + "z" * 43})
        assert r.status_code == 401
        r = await anon.get(f"{BASE}/feed.ics", params={"token": generated})
        assert r.status_code == 200 and b"BEGIN:VCALENDAR" in r.content


async def test_feed_takes_a_read_key_instead_of_the_token(
    state: AppState, db_session: AsyncSession, tmp_path: Path
):
    app = app_in_transaction(_with(state, tmp_path / "data"), db_session)
    async with http_client(app) as admin:
        made = await admin.post("/api/v1/auth/keys", json={"name": "feed-reader", "scope": "read"})
        assert made.status_code == 201
    async with http_client(app, key=made.json()["key"]) as reader:
        r = await reader.get(f"{BASE}/feed.ics", params=WINDOW)
        assert r.status_code == 200 and b"BEGIN:VCALENDAR" in r.content
        # The secret address is a credential: only admins see it.
        assert (await reader.get(f"{BASE}/feed-url")).status_code == 403


async def test_a_configured_feed_token_is_the_one_required(
    state: AppState, db_session: AsyncSession, tmp_path: Path
):
    app = app_in_transaction(_with(state, tmp_path / "data", "s3cret-token"), db_session)
    async with http_client(app, key=None) as anon:
        for params in ({}, {"token": "wrong"}, {"token": "s3cret-toke"}):
            r = await anon.get(f"{BASE}/feed.ics", params=params)
            assert r.status_code == 401, params
        r = await anon.get(f"{BASE}/feed.ics", params={"token": "s3cret-token"})
        assert r.status_code == 200 and b"BEGIN:VCALENDAR" in r.content
    async with http_client(app) as admin:
        out = (await admin.get(f"{BASE}/feed-url")).json()
    assert out["token_source"] == "setting"
    assert out["path"] == f"{BASE}/feed.ics?token=s3cret-token"
    assert not (tmp_path / "data" / FEED_TOKEN_FILE).exists()


async def test_feed_url_gives_the_generated_token(
    state: AppState, db_session: AsyncSession, tmp_path: Path
):
    app = app_in_transaction(_with(state, tmp_path / "data"), db_session)
    async with http_client(app) as admin:
        r = await admin.get(f"{BASE}/feed-url")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    out = r.json()
    token = (tmp_path / "data" / FEED_TOKEN_FILE).read_text().strip()
    assert out["token_source"] == "data_folder"
    assert out["url"] == f"http://almanac.test{BASE}/feed.ics?token={token}"
    async with http_client(app, key=None) as anon:
        assert (await anon.get(out["path"])).status_code == 200


# The import takes only text/calendar bodies (415 otherwise).
CAL = {"content-type": "text/calendar"}


async def test_import_is_idempotent(calendar_client: httpx.AsyncClient):
    headers = {"content-type": "text/calendar"}
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=ICS, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["created"], out["updated"], out["unchanged"], out["skipped"]) == (2, 0, 0, 0)
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    assert [(e["title"], e["source"]) for e in listed] == [("Gym", "user"), ("Dentist", "user")]

    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=ICS, headers=headers)
    out = r.json()
    assert (out["created"], out["updated"], out["unchanged"]) == (0, 0, 2)

    moved = ICS.replace("SUMMARY:Dentist", "SUMMARY:Dentist (moved)")
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=moved, headers=headers)
    assert (r.json()["created"], r.json()["updated"]) == (0, 1)
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    dentist = next(e for e in listed if e["uid"] == "dentist-1")
    assert dentist["title"] == "Dentist (moved)" and dentist["sequence"] == 1
    assert len(listed) == 2


async def test_an_import_keeps_an_endless_event_within_its_window_and_says_so(
    calendar_client: httpx.AsyncClient,
):
    """DURATION:P99999W was stored busy until 2200, and the answer had no note."""
    endless = ICS.replace("SUMMARY:Dentist", "SUMMARY:Dentist\r\nDURATION:P99999W").replace(
        "DTEND:20260303T100000Z\r\n", ""
    )
    assert "DTEND" not in endless.split("UID:dentist-1")[1].split("END:VEVENT")[0], endless
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=endless, headers=CAL)
    assert r.status_code == 200, r.text
    [note] = r.json()["notes"]
    assert "'dentist-1'" in note and "2200" in note and WEEK[1].date().isoformat() in note
    listed = (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json()
    dentist = next(e for e in listed if e["uid"] == "dentist-1")
    assert datetime.fromisoformat(dentist["end"]) == WEEK[1] and dentist["busy"]


async def test_import_skips_almanac_blocks(
    calendar_client: httpx.AsyncClient, db_session: AsyncSession
):
    await add_blocks(db_session)
    feed = (await calendar_client.get(f"{BASE}/feed.ics", params=WINDOW)).content
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=feed, headers=CAL)
    assert r.json()["skipped"] == 2 and r.json()["created"] == 0


async def test_bad_imports_are_4xx_problems(calendar_client: httpx.AsyncClient):
    r = await calendar_client.post(
        f"{BASE}/import", params=WINDOW, content=b"not a calendar", headers=CAL
    )
    assert r.status_code == 422 and fields(r) == ["body"]
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=b"", headers=CAL)
    assert r.status_code == 422 and fields(r) == ["body"]
    r = await calendar_client.post(
        f"{BASE}/import", params=WINDOW, content=b"x" * (MAX_ICS_BYTES + 1), headers=CAL
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    r = await calendar_client.post(
        f"{BASE}/import", params={**WINDOW, "end": "2026-03-01T00:00:00Z"}, content=ICS, headers=CAL
    )
    assert r.status_code == 422 and fields(r) == ["end"]


async def test_the_ics_size_setting_raises_and_lowers_the_bound(
    state: AppState, calendar_client: httpx.AsyncClient
):
    """`ALMANAC_SECURITY__MAX_ICS_BYTES` is documented as the import's limit, but the API
    and the parser kept a constant 2 MiB: a larger setting changed nothing."""
    padded = ICS.replace(
        "END:VCALENDAR", "X-PAD:" + "a" * (MAX_ICS_BYTES + 1000) + "\r\nEND:VCALENDAR"
    )
    state.settings.security.max_ics_bytes = 2 * MAX_ICS_BYTES
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=padded, headers=CAL)
    assert r.status_code == 200, r.text[:300]
    too_big = b"x" * (2 * MAX_ICS_BYTES + 1)
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=too_big, headers=CAL)
    assert r.status_code == 413 and str(2 * MAX_ICS_BYTES) in r.text
    state.settings.security.max_ics_bytes = 4096
    r = await calendar_client.post(f"{BASE}/import", params=WINDOW, content=padded, headers=CAL)
    assert r.status_code == 413 and "4096" in r.text


async def test_the_feed_is_rendered_off_the_event_loop(
    calendar_client: httpx.AsyncClient, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    """6,000 entries took 2 s to render on the event loop, and /health waited as long."""
    import threading

    from almanac.calendars import ics

    real, threads = ics.render_calendar, []

    def render(entries: Any) -> bytes:
        threads.append(threading.current_thread())
        return real(entries)

    monkeypatch.setattr(ics, "render_calendar", render)
    await add_blocks(db_session)
    r = await calendar_client.get(f"{BASE}/feed.ics", params=WINDOW)
    assert r.status_code == 200 and b"BEGIN:VCALENDAR" in r.content
    assert threads and threads[0] is not threading.main_thread()
