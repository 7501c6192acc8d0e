"""`plan_changes`, `merge_intervals` and the value types, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from almanac.calendars.base import (
    CalendarEvent,
    EventSpec,
    almanac_id_from_uid,
    event_uid,
    merge_intervals,
    plan_changes,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(days=7))


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def spec(aid: str, start: float, end: float, title: str = "Block") -> EventSpec:
    return EventSpec(almanac_id=aid, title=title, start=h(start), end=h(end))


def ours(s: EventSpec, **changes: object) -> CalendarEvent:
    fields: dict[str, object] = {
        "uid": s.uid,
        "title": s.title,
        "start": s.start,
        "end": s.end,
        "description": s.description,
        "almanac_id": s.almanac_id,
        "href": f"/cal/{s.almanac_id}.ics",
    }
    fields.update(changes)
    return CalendarEvent(**fields)  # type: ignore[arg-type]


def users(uid: str, start: float, end: float) -> CalendarEvent:
    return CalendarEvent(uid=uid, title="Dentist", start=h(start), end=h(end))


def test_uid_round_trip() -> None:
    assert event_uid("task-7") == "almanac-task-7@almanac"
    assert almanac_id_from_uid(event_uid("a@b-c")) == "a@b-c"
    assert almanac_id_from_uid("1234@google.com") is None
    assert almanac_id_from_uid("almanac-@almanac") is None


def test_empty_calendar_creates_everything() -> None:
    desired = [spec("a", 1, 2), spec("b", 3, 4)]
    plan = plan_changes([], desired, WINDOW)
    assert [s.almanac_id for s in plan.create] == ["a", "b"]
    assert plan.update == [] and plan.delete == [] and plan.unchanged == []


def test_identical_events_are_unchanged_and_users_ignored() -> None:
    a, b = spec("a", 1, 2), spec("b", 3, 4)
    existing = [ours(a), users("dentist", 1, 5), ours(b)]
    create, update, delete, unchanged = plan_changes(existing, [a, b], WINDOW)
    assert create == [] and update == [] and delete == []
    assert [e.almanac_id for e in unchanged] == ["a", "b"]


def test_changed_title_time_or_description_is_an_update() -> None:
    a, b, c = spec("a", 1, 2), spec("b", 3, 4), spec("c", 5, 6)
    existing = [ours(a, title="Old"), ours(b, end=h(4.5)), ours(c, description="x")]
    plan = plan_changes(existing, [a, b, c], WINDOW)
    assert [(e.almanac_id, s.almanac_id) for e, s in plan.update] == [
        ("a", "a"),
        ("b", "b"),
        ("c", "c"),
    ]
    assert plan.create == [] and plan.delete == [] and plan.unchanged == []


def test_same_instant_in_other_zone_is_an_update_but_equal_zone_is_not() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    a = EventSpec("a", "Block", h(1).astimezone(berlin), h(2).astimezone(berlin))
    assert plan_changes([ours(a)], [a], WINDOW).unchanged
    moved_zone = ours(a, start=h(1), end=h(2))  # same instants, but stored as UTC
    assert plan_changes([moved_zone], [a], WINDOW).update


def test_fixed_offsets_compare_as_utc() -> None:
    from datetime import timezone

    plus2 = timezone(timedelta(hours=2))
    a = EventSpec("a", "Block", h(1).astimezone(plus2), h(2).astimezone(plus2))
    stored = ours(a, start=h(1), end=h(2))
    assert plan_changes([stored], [a], WINDOW).unchanged == [stored]


def test_undesired_almanac_events_in_window_are_deleted_others_kept() -> None:
    a, gone = spec("a", 1, 2), spec("gone", 3, 4)
    outside = spec("later", 24 * 10, 24 * 10 + 1)  # beyond the window: not ours to judge
    user = users("u1", 3, 4)
    plan = plan_changes([ours(a), ours(gone), ours(outside), user], [a], WINDOW)
    assert [e.almanac_id for e in plan.delete] == ["gone"]
    assert [e.almanac_id for e in plan.unchanged] == ["a"]


def test_duplicates_of_one_id_keep_the_first() -> None:
    a = spec("a", 1, 2)
    first, second = ours(a), ours(a, href="/cal/copy.ics")
    plan = plan_changes([first, second], [a], WINDOW)
    assert plan.unchanged == [first] and plan.delete == [second]


def test_window_edges_are_half_open() -> None:
    a = spec("edge", -1, 0)  # ends exactly at the window start: outside
    plan = plan_changes([ours(a)], [], WINDOW)
    assert plan.delete == []


@pytest.mark.parametrize(
    "bad",
    [
        [spec("a", 1, 2), spec("a", 3, 4)],  # duplicate id
        [spec("a", 24 * 8, 24 * 8 + 1)],  # outside the window
    ],
)
def test_invalid_desired_sets_are_rejected(bad: list[EventSpec]) -> None:
    with pytest.raises(ValueError):
        plan_changes([], bad, WINDOW)


def test_naive_datetimes_are_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="start"):
        EventSpec("a", "x", datetime(2026, 3, 2, 9), h(2))
    with pytest.raises(ValueError, match="end"):
        EventSpec("a", "x", h(1), datetime(2026, 3, 2, 12))
    with pytest.raises(ValueError, match="window_end"):
        plan_changes([], [], (T0, datetime(2026, 3, 9)))
    with pytest.raises(ValueError, match="end must be after"):
        EventSpec("a", "x", h(2), h(1))


def test_merge_intervals_merges_overlaps_and_touching() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    merged = merge_intervals(
        [
            (h(5), h(6)),
            (h(1), h(3)),
            (h(2).astimezone(berlin), h(4).astimezone(berlin)),  # overlaps, other zone
            (h(4), h(4.5)),  # touches
            (h(7), h(7)),  # empty: dropped
        ]
    )
    assert [(i.start, i.end) for i in merged] == [(h(1), h(4.5)), (h(5), h(6))]
    assert all(i.start.tzinfo is UTC for i in merged)
