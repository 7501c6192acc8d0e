"""Week view: preview and apply a schedule, drag a block to a free slot, drag onto a meeting."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, Route, expect

from tests.web.conftest import TIMEZONE, Server, Watch, shot

TZ = ZoneInfo(TIMEZONE)
PX = 0.8  # the week view's pixels per minute


def _next_monday() -> date:
    today = datetime.now(TZ).date()
    return today + timedelta(days=7 - today.weekday())


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def _events(server: Server, monday: date) -> list[dict[str, Any]]:
    params = {
        "start_date": monday.isoformat(),
        "end_date": (monday + timedelta(days=6)).isoformat(),
    }
    out = server.api("GET", "/api/v1/scheduler/calendar", params=params)
    assert out.status_code == 200
    return list(out.json()["events"])


def _overlaps(a0: datetime, a1: datetime, e: dict[str, Any]) -> bool:
    return a0 < datetime.fromisoformat(e["end"]) and datetime.fromisoformat(e["start"]) < a1


def _drag(page: Page, block_id: str, start: datetime, day: date, target: datetime) -> None:
    """Drag a block by the pixel distance that moves it from `start` to `target` on `day`."""
    box = page.locator(f'.ev[data-id="{block_id}"]').bounding_box()
    col = page.locator(f'.day[data-day="{day.isoformat()}"]').bounding_box()
    assert box and col
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + min(8, box["height"] / 2)
    minutes = (target - start).total_seconds() / 60 - (target.date() - start.date()).days * 1440
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(col["x"] + col["width"] / 2, y0 + minutes * PX, steps=12)
    page.mouse.up()


def test_schedule_then_drag(page: Page, server: Server, watch: Watch) -> None:
    plan = server.api(
        "POST", "/api/v1/planner/plan", json={"intent": "Monthly client reporting for Acme"}
    )
    plan_id = plan.json()["id"]
    assert server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").status_code == 200
    monday = _next_monday()
    tuesday = monday + timedelta(days=1)
    meeting = {
        "title": "Client call",
        "start": _at(tuesday, 14).isoformat(),
        "end": _at(tuesday, 15).isoformat(),
    }
    assert server.api("POST", "/api/v1/calendar/events", json=meeting).status_code == 201

    page.goto(server.url + f"/ui/week?week={monday.isoformat()}&plan={plan_id}")
    expect(page.locator(".ev.meeting")).to_have_count(1)
    form = page.locator("#sched-form")
    form.get_by_label("From").fill(monday.isoformat())
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-out")).to_contain_text("Nothing is written yet")
    expect(page.locator(".ev.preview").first).to_be_visible()
    assert not [e for e in _events(server, monday) if e["almanac"]], "a preview wrote blocks"

    page.get_by_role("button", name="Apply to the calendar").click()
    expect(page.locator("#flash")).to_contain_text(f"Plan #{plan_id} scheduled")
    blocks = [e for e in _events(server, monday) if e["almanac"]]
    assert blocks, "applying wrote no blocks"
    expect(page.locator("button.ev").first).to_be_visible()
    shot(page, "week")

    # Keyboard: a block is a button; Enter opens the move form with its times in the user's
    # zone (the browser runs in UTC, the server in Europe/Berlin).
    first = page.locator(f'.ev[data-id="{blocks[0]["id"]}"]')
    first.focus()
    page.keyboard.press("Enter")
    form = page.locator("#move-form")
    expect(form).to_be_visible()
    local = datetime.fromisoformat(blocks[0]["start"]).astimezone(TZ)
    expect(form.get_by_label("New start")).to_have_value(local.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Close").click()

    # Drag a block of the plan to a free slot between the ends of the tasks it depends on
    # and the starts of the tasks that depend on it, so no dependency breaks; the latest
    # block first, to the earliest such slot (earlier never passes a deadline). In the
    # whole suite the week also holds other journeys' plans (the solver places every
    # approved plan), and a loaded machine's solve may put this plan's last block last
    # thing on Friday: no free time was left after every other block of the plan.
    prefix = f"plan{plan_id}-"

    def key_of(e: dict[str, Any]) -> str:
        return str(e["id"]).removeprefix(prefix).rsplit("-", 1)[0]

    needs = {
        t["id"]: set(t.get("depends_on", []))
        for step in plan.json()["sop"]["steps"]
        for t in step["tasks"]
    }
    week = _events(server, monday)

    def slot_for(block: dict[str, Any]) -> datetime | None:
        b0 = datetime.fromisoformat(block["start"])
        duration = datetime.fromisoformat(block["end"]) - b0
        key = key_of(block)
        lo = max(
            (datetime.fromisoformat(e["end"]) for e in blocks if key_of(e) in needs[key]),
            default=_at(monday, 9),
        )
        hi = min(
            (datetime.fromisoformat(e["start"]) for e in blocks if key in needs[key_of(e)]),
            default=_at(monday + timedelta(days=7), 0),
        )
        others = [e for e in week if e["busy"] and e["id"] != block["id"]]
        for offset in range(5):
            day = monday + timedelta(days=offset)
            for quarter in range(9 * 4, 17 * 4):
                s = _at(day, quarter // 4, quarter % 4 * 15)
                if s < lo or s + duration > min(hi, _at(day, 17)) or s == b0:
                    continue
                if not any(_overlaps(s, s + duration, e) for e in others):
                    return s
        return None

    latest_first = sorted(blocks, key=lambda e: datetime.fromisoformat(e["start"]), reverse=True)
    found = next(((b, s) for b in latest_first if (s := slot_for(b)) is not None), None)
    assert found is not None, (
        "no block of the plan has a free slot its dependencies allow",
        [(e["title"][:30], e["start"][5:16], e["end"][11:16]) for e in week if e["busy"]],
    )
    block, free = found
    b0 = datetime.fromisoformat(block["start"])
    _drag(page, block["id"], b0, free.date(), free)
    expect(page.locator("#flash")).to_contain_text("Moved")
    moved = [e for e in _events(server, monday) if e["almanac"] and e["title"] == block["title"]]
    assert any(datetime.fromisoformat(e["start"]) == free for e in moved), (free, moved)

    # Internal work in the same week (a proposal is not billable), scheduled through the API.
    proposal = server.api("POST", "/api/v1/planner/plan", json={"intent": "Write a proposal"})
    assert proposal.status_code == 201, proposal.text
    internal_id = proposal.json()["id"]
    assert server.api("POST", f"/api/v1/planner/plans/{internal_id}/approve").status_code == 200
    placed = server.api(
        "POST",
        "/api/v1/scheduler/schedule",
        json={"plan_id": internal_id, "start_date": monday.isoformat(), "dry_run": False},
    )
    assert placed.status_code == 200, placed.text
    page.reload()
    expect(page.locator("button.ev").first).to_be_visible()

    # The sprint: created from the form; with a short runway the low billable share warns.
    sprint = page.locator("#sprint")
    sprint.get_by_label("Capacity (h)").fill("32")
    sprint.get_by_label("Runway (weeks)").fill("8")
    sprint.get_by_role("button", name="Create the sprint").click()
    expect(sprint.get_by_role("meter", name="Capacity used")).to_be_visible()
    expect(sprint).to_contain_text("of 32 h used")
    report = server.api("GET", "/api/v1/scheduler/sprints").json()
    assert [s["week_start"] for s in report] == [monday.isoformat()]
    detail = server.api("GET", f"/api/v1/scheduler/sprints/{report[0]['id']}").json()
    share = detail["billable_share_pct"]
    assert share is not None and share < 60, detail
    expect(sprint).to_contain_text(f"{share:.0f}% of the hours scheduled")
    expect(sprint).to_contain_text("under the 60% target")
    shot(page, "week-sprint")

    # Drag another block onto the meeting: the conflict is shown and nothing moves.
    watch.expected.add(409)
    current = [e for e in _events(server, monday) if e["almanac"]]
    victim = next(e for e in current if datetime.fromisoformat(e["start"]) != free)
    v0 = datetime.fromisoformat(victim["start"])
    page.wait_for_selector(f'.ev[data-id="{victim["id"]}"]')
    _drag(page, victim["id"], v0, tuesday, _at(tuesday, 14))
    flash = page.locator("#flash")
    expect(flash).to_contain_text("Not moved")
    assert "conflict" in flash.inner_text()
    expect(page.locator("#conflicts")).not_to_contain_text("Client call")
    after = {e["id"]: e for e in _events(server, monday)}
    shot(page, "week-conflict")
    assert after[victim["id"]]["start"] == victim["start"], "a refused move changed the block"
    assert after[victim["id"]]["end"] == victim["end"]


def _week_of_an_approved_plan(
    page: Page, server: Server, client: str, weeks_ahead: int
) -> tuple[int, date, Locator]:
    """An approved plan for `client`, its schedule form open on a week clear of the other
    journeys', the form's start set to that Monday."""
    plan = server.api(
        "POST", "/api/v1/planner/plan", json={"intent": f"Monthly client reporting for {client}"}
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    assert server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").status_code == 200
    monday = _next_monday() + timedelta(weeks=weeks_ahead)
    page.goto(server.url + f"/ui/week?week={monday.isoformat()}&plan={plan_id}")
    form = page.locator("#sched-form")
    expect(form.locator("select[name=plan_id]")).to_have_value(str(plan_id))  # plans loaded
    form.get_by_label("From").fill(monday.isoformat())
    return plan_id, monday, form


def test_apply_writes_the_preview_or_says_what_changed(
    page: Page, server: Server, watch: Watch
) -> None:
    # Apply sent the form again without the preview's run_id: the server solved once more
    # and wrote that, whatever had changed since the preview on screen.
    plan_id, monday, form = _week_of_an_approved_plan(page, server, "Beta", 2)
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-out")).to_contain_text("Nothing is written yet")
    early = {  # before working hours: no block moves for it, but the calendar changed
        "title": "Breakfast",
        "start": _at(monday + timedelta(days=2), 7).isoformat(),
        "end": _at(monday + timedelta(days=2), 8).isoformat(),
    }
    assert server.api("POST", "/api/v1/calendar/events", json=early).status_code == 201
    watch.expected.add(409)
    page.get_by_role("button", name="Apply to the calendar").click()
    expect(page.locator("#preview-out")).to_contain_text("preview again")
    written = [e for e in _events(server, monday) if e["almanac"]]
    assert not written, written
    # Previewed again, the same button writes it.
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-out")).to_contain_text("Nothing is written yet")
    page.get_by_role("button", name="Apply to the calendar").click()
    expect(page.locator("#flash")).to_contain_text(f"Plan #{plan_id} scheduled")
    assert [e for e in _events(server, monday) if e["almanac"]]


def test_apply_waits_for_a_preview_of_the_form_as_edited(
    page: Page, server: Server, watch: Watch
) -> None:
    # A preview answered after the form was edited (another plan or horizon chosen while it
    # solved) enabled Apply anyway, which then wrote the preview of the form as it was.
    plan_id, monday, form = _week_of_an_approved_plan(page, server, "Gamma", 4)
    apply = page.get_by_role("button", name="Apply to the calendar")
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/api/v1/scheduler/schedule", hold)
    form.get_by_role("button", name="Preview").click()
    while not held:  # the preview's request, held until the form is edited
        page.wait_for_timeout(50)
    form.get_by_label("Days").fill("7")
    held[0].continue_()
    page.unroute("**/api/v1/scheduler/schedule")
    expect(page.locator("#preview-out")).to_contain_text("Nothing is written yet")
    expect(apply).to_be_disabled()
    # Previewed as edited, Apply is offered again.
    form.get_by_role("button", name="Preview").click()
    expect(apply).to_be_enabled()
    # A 409 (the calendar changed since) leaves Apply off until the next preview.
    early = {
        "title": "Breakfast",
        "start": _at(monday + timedelta(days=1), 7).isoformat(),
        "end": _at(monday + timedelta(days=1), 8).isoformat(),
    }
    assert server.api("POST", "/api/v1/calendar/events", json=early).status_code == 201
    watch.expected.add(409)
    apply.click()
    expect(page.locator("#preview-out")).to_contain_text("preview again")
    expect(apply).to_be_disabled()
    form.get_by_role("button", name="Preview").click()
    expect(apply).to_be_enabled()


def test_a_day_is_overbooked_by_its_blocks_against_the_days_limit(
    page: Page, server: Server, watch: Watch
) -> None:
    # The view's calendar answer is fixed here, so the page's own counting is what is
    # checked: blocks against the day's limit as the server states it, meetings aside.
    monday = _next_monday()
    tuesday, saturday = monday + timedelta(days=1), monday + timedelta(days=5)

    def event(eid: str, day: date, h0: int, h1: int, almanac: bool) -> dict[str, Any]:
        return {
            "id": eid,
            "uid": eid,
            "title": eid,
            "start": _at(day, h0).isoformat(),
            "end": _at(day, h1).isoformat(),
            "almanac": almanac,
            "busy": True,
            "all_day": False,
            "client_id": None,
            "conflicts": [],
            "warnings": [],
        }

    body = {
        "start": _at(monday, 0).isoformat(),
        "end": _at(monday + timedelta(days=7), 0).isoformat(),
        "provider": "builtin",
        "events": [
            event("plan987654-a-0", monday, 9, 12, True),  # 3 h of blocks, 2 h allowed
            event("Workshop", tuesday, 9, 14, False),  # 5 h of meetings ...
            event("plan987654-b-0", tuesday, 14, 15, True),  # ... and 1 h of blocks
            event("plan987654-c-0", saturday, 10, 13, True),  # a day off with no limit
        ],
        "day_limits": [
            {"day": (monday + timedelta(days=n)).isoformat(), "hours": 2.0, "limit": "daily max"}
            for n in range(5)
        ],
    }
    page.route("**/api/v1/scheduler/calendar?*", lambda route: route.fulfill(json=body, status=200))
    watch.expected.add(404)  # the made-up plan behind the blocks
    page.goto(server.url + f"/ui/week?week={monday.isoformat()}")
    expect(page.locator(".ev")).to_have_count(4)
    over = page.locator(".day.over")
    expect(over).to_have_count(1)
    expect(over).to_have_attribute("data-day", monday.isoformat())
    expect(page.locator(".dayhead .warn")).to_have_text(
        ["overbooked: 3.0 h of blocks, above the daily max of 2 h"]
    )


def test_a_week_in_the_address_that_is_no_date_shows_this_week(page: Page, server: Server) -> None:
    """`?week=abc` (an address edited by hand) threw "Invalid time value" and the week view
    stayed empty; `2027-02-30` is no date either."""
    today = datetime.now(ZoneInfo("UTC")).date()  # the page fixture's browser is in UTC
    this_monday = today - timedelta(days=today.weekday())
    for asked in ("abc", "2027-02-30"):
        page.goto(server.url + f"/ui/week?week={asked}")
        expect(page).to_have_url(f"{server.url}/ui/week?week={this_monday.isoformat()}")
        expect(page.locator("#week-label")).not_to_be_empty()
        page.wait_for_load_state("networkidle")  # leaving earlier would abort its requests


def test_days_line_up_with_the_hours_and_the_apis_conflicts_are_shown(
    page: Page, server: Server, watch: Watch
) -> None:
    """A day head that wrapped (a phone, an all-day event) pushed its own column down: a
    14:00 meeting was drawn 70 minutes low. And an all-day busy event over a block, a
    conflict in the API's answer, was none in the view (an outside probe in Chromium)."""
    monday = _next_monday()
    tuesday = monday + timedelta(days=1)

    def event(eid: str, day: date, h0: int, h1: int, **kw: Any) -> dict[str, Any]:
        base = {"id": eid, "uid": eid, "title": eid, "start": _at(day, h0).isoformat()}
        base.update(end=_at(day, h1).isoformat(), almanac=False, busy=True, all_day=False)
        return {**base, "client_id": None, "conflicts": [], "warnings": [], **kw}

    offsite = "Offsite with the whole leadership team (busy all day)"
    body = {
        "start": _at(monday, 0).isoformat(),
        "end": _at(monday + timedelta(days=7), 0).isoformat(),
        "provider": "builtin",
        "events": [
            event("Client call", monday, 14, 15),
            {
                **event(offsite, tuesday, 0, 0),
                "start": _at(tuesday, 0).isoformat(),
                "end": _at(tuesday + timedelta(days=1), 0).isoformat(),
                "all_day": True,
            },
            event(
                "plan987655-a-0", tuesday, 10, 12, almanac=True, conflicts=[f"overlaps '{offsite}'"]
            ),
        ],
        "day_limits": [],
    }
    page.route("**/api/v1/scheduler/calendar?*", lambda route: route.fulfill(json=body, status=200))
    watch.expected.add(404)  # the made-up plan behind the block
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(server.url + f"/ui/week?week={monday.isoformat()}")
        expect(page.locator(".ev")).to_have_count(2)
        tops = {round(b["y"]) for b in (d.bounding_box() for d in page.locator(".day").all()) if b}
        assert len(tops) == 1, (width, tops)  # every day starts at the same height
        label = page.locator(".week .hours span", has_text="14:00").bounding_box()
        call = page.locator('.ev[data-id="Client call"]').bounding_box()
        assert label and call
        assert abs(call["y"] - label["y"] - label["height"] / 2) < 3, (width, call, label)
        expect(page.locator("#conflicts")).to_contain_text(offsite)
        expect(page.locator('.ev[data-id="plan987655-a-0"]')).to_have_class(re.compile("conflict"))
