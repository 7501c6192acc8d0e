"""One definition of billable share: billable ÷ worked hours, as a percentage."""

from __future__ import annotations

from almanac.billing import billable_share_pct


def test_billable_share_is_billable_over_worked_in_percent():
    assert billable_share_pct(3, 8) == 37.5
    assert billable_share_pct(0, 5) == 0.0
    assert billable_share_pct(2, 0) is None  # nothing worked: no share, not 0 % or a crash
