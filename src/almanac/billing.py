"""One definition of billable share, used by sprint reports and reflections alike.

Which hours it is taken over is the caller's to say: reflections use hours worked; the
sprint report gives it over hours scheduled and over hours worked, each labelled."""

from __future__ import annotations


def billable_share_pct(billable_hours: float, worked_hours: float) -> float | None:
    """Billable hours ÷ worked hours, as a percentage with one decimal; None if none worked."""
    if worked_hours <= 0:
        return None
    return round(100 * billable_hours / worked_hours, 1)
