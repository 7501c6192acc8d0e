"""One definition of billable share (billable ÷ hours, as a percentage) and of the hours
of a run worked in a period."""

from __future__ import annotations

from datetime import UTC, datetime

from almanac.billing import billable_share_pct, hours_in, logged_entries


def test_billable_share_is_billable_over_worked_in_percent():
    assert billable_share_pct(3, 8) == 37.5
    assert billable_share_pct(0, 5) == 0.0
    assert billable_share_pct(2, 0) is None  # nothing worked: no share, not 0 % or a crash


MON = datetime(2026, 11, 9, tzinfo=UTC)
TUE = datetime(2026, 11, 10, tzinfo=UTC)
WED = datetime(2026, 11, 11, tzinfo=UTC)


def test_logged_hours_count_on_the_day_they_were_worked():
    # 1 h logged Monday 10:00-11:00, 2 h Tuesday 14:00-16:00, in one run begun Monday.
    meta = {
        "entries": [
            {"hours": 1, "ended_at": "2026-11-09T11:00:00+00:00", "note": None},
            {"hours": 2, "ended_at": "2026-11-10T16:00:00+00:00", "note": None},
            {"hours": "x", "ended_at": "2026-11-10T16:00:00+00:00"},  # unreadable: left out
            {"hours": 1, "ended_at": "2026-11-10T16:00:00"},  # no offset: left out
        ]
    }
    entries = logged_entries(meta)
    assert len(entries) == 2
    began = datetime(2026, 11, 9, 10, tzinfo=UTC)
    assert hours_in(entries, 3, began, MON, TUE) == 1
    assert hours_in(entries, 3, began, TUE, WED) == 2
    # A run with more hours than its entries (stopped with --hours): the rest at its start.
    assert hours_in(entries, 3.5, began, MON, TUE) == 1.5
    # No entries: all at the run's start.
    assert hours_in((), 4, began, MON, TUE) == 4 and hours_in((), 4, began, TUE, WED) == 0
    assert logged_entries(None) == () and logged_entries({"entries": "no"}) == ()
