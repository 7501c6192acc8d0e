"""Re-importing an updated .ics: occurrences the file's series no longer has (an EXDATE added,
the series ended early) leave the calendar; other events stay."""

from __future__ import annotations

import httpx

from tests.calendars.test_calendar_api import BASE, CAL, WINDOW


def weekly(extra: str = "", count: int = 5) -> str:
    """A daily stand-up Monday to Friday of the test week, plus one unrelated event."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:standup@example.com\r\nSUMMARY:Stand-up\r\n"
        "DTSTART;TZID=Europe/Berlin:20260302T093000\r\n"
        "DTEND;TZID=Europe/Berlin:20260302T100000\r\n"
        f"RRULE:FREQ=DAILY;COUNT={count}\r\n{extra}"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:lunch@example.com\r\nSUMMARY:Lunch\r\n"
        "DTSTART:20260303T110000Z\r\nDTEND:20260303T120000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


async def titles(api: httpx.AsyncClient) -> list[str]:
    listed = (await api.get(f"{BASE}/events", params=WINDOW)).json()
    return [f"{e['title']} {e['start'][:10]}" for e in listed]


async def test_occurrences_the_file_dropped_are_removed_on_reimport(
    calendar_client: httpx.AsyncClient,
) -> None:
    api = calendar_client
    r = await api.post(f"{BASE}/import", params=WINDOW, content=weekly(), headers=CAL)
    assert r.status_code == 200 and r.json()["created"] == 6, r.text
    # The user cancels Wednesday's stand-up in their calendar app and imports its export.
    cancelled = weekly("EXDATE;TZID=Europe/Berlin:20260304T093000\r\n")
    r = await api.post(f"{BASE}/import", params=WINDOW, content=cancelled, headers=CAL)
    assert r.status_code == 200, r.text
    assert "Stand-up 2026-03-04" not in await titles(api)
    assert r.json()["removed"] == 1
    # The series ends on Tuesday: Thursday's and Friday's go too; the lunch stays.
    r = await api.post(f"{BASE}/import", params=WINDOW, content=weekly(count=2), headers=CAL)
    assert r.json()["removed"] == 2
    assert await titles(api) == [
        "Stand-up 2026-03-02",
        "Stand-up 2026-03-03",
        "Lunch 2026-03-03",
    ]
    # The same file again changes nothing.
    r = await api.post(f"{BASE}/import", params=WINDOW, content=weekly(count=2), headers=CAL)
    out = r.json()
    assert (out["created"], out["updated"], out["removed"], out["unchanged"]) == (0, 0, 0, 3)


async def test_a_file_with_only_an_override_removes_nothing(
    calendar_client: httpx.AsyncClient,
) -> None:
    """An invitation update carries one occurrence of a series (RECURRENCE-ID, no RRULE):
    it is not the series, so the other occurrences stay."""
    api = calendar_client
    r = await api.post(f"{BASE}/import", params=WINDOW, content=weekly(), headers=CAL)
    assert r.json()["created"] == 6, r.text
    update = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:standup@example.com\r\nSUMMARY:Stand-up (long)\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260303T093000\r\n"
        "DTSTART;TZID=Europe/Berlin:20260303T093000\r\n"
        "DTEND;TZID=Europe/Berlin:20260303T110000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    r = await api.post(f"{BASE}/import", params=WINDOW, content=update, headers=CAL)
    assert r.status_code == 200, r.text
    assert r.json()["removed"] == 0
    assert len(await titles(api)) == 6


async def test_a_series_that_became_one_event_leaves_only_that_event(
    calendar_client: httpx.AsyncClient,
) -> None:
    """The stand-up's rule removed (SEQUENCE 1): its occurrences stayed busy beside the single
    event, a duplicate at the same time among them, and a re-import said "unchanged"."""
    api = calendar_client
    r = await api.post(f"{BASE}/import", params=WINDOW, content=weekly(), headers=CAL)
    assert r.json()["created"] == 6, r.text
    single = weekly().replace("RRULE:FREQ=DAILY;COUNT=5\r\n", "SEQUENCE:1\r\n")
    r = await api.post(f"{BASE}/import", params=WINDOW, content=single, headers=CAL)
    assert r.status_code == 200, r.text
    assert r.json()["removed"] == 5 and r.json()["created"] == 1, r.text
    assert await titles(api) == ["Stand-up 2026-03-02", "Lunch 2026-03-03"]
