"""The calendar view's window: an end before the start is a 422 that names both dates, and
says the start is today when the caller left it out (the message named a start_date they
never sent)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from .conftest import TZ

URL = "/api/v1/scheduler/calendar"


async def test_an_end_date_in_the_past_alone_names_today(sched_client: httpx.AsyncClient) -> None:
    today = datetime.now(TZ).date()
    past = today - timedelta(days=31)
    r = await sched_client.get(URL, params={"end_date": past.isoformat()})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["end_date"]
    message = errors[0]["message"]
    assert message == (
        f"end_date {past.isoformat()} is before start_date, "
        f"which defaults to today ({today.isoformat()})"
    )


async def test_an_end_date_before_a_given_start_date_names_both(
    sched_client: httpx.AsyncClient,
) -> None:
    start = datetime.now(TZ).date() + timedelta(days=10)
    end = start - timedelta(days=1)
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    r = await sched_client.get(URL, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "end_date", "message": f"end_date {end} is before start_date {start}"}
    ]
