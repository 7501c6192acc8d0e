"""Today and Reflections: finish work, reflect on the day, see it in the timeline and chart."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.web.conftest import TIMEZONE, Server, shot


def broken_cells(page: Page, selector: str, one_line: bool = False) -> list[str]:
    """The cells matching `selector` whose text takes more lines than it has words (or
    more than one line)."""
    return list(
        page.eval_on_selector_all(
            selector,
            """cells => cells.filter((c) => {
                const text = c.textContent.trim();
                if (!text) return false;
                const range = document.createRange();
                range.selectNodeContents(c);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                return lines.size > (ONE ? 1 : text.split(/\\s+/).length);
            }).map((c) => c.textContent.trim())""".replace("ONE", "true" if one_line else "false"),
        )
    )


def test_log_time_reflect_and_chart(page: Page, server: Server) -> None:
    plan = server.api(
        "POST", "/api/v1/planner/plan", json={"intent": "Onboard the new client Zenith"}
    )
    plan_id = plan.json()["id"]
    approved = server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").json()
    page.goto(server.url + "/ui/today")
    tasks = page.locator("#tasks")
    title = plan.json()["sop"]["steps"][0]["tasks"][0]["title"]
    if server.features["tasks"]:
        expect(tasks).to_contain_text(title)
        row = tasks.locator("tr", has_text=title).first
        row.get_by_label(f"Hours worked on {title}").fill("0.25")
        row.get_by_role("button", name="Log time").click()
        expect(page.locator("#flash")).to_contain_text("Logged 0.25 h")
        row.get_by_role("button", name=f"Mark “{title}” done").click()
        expect(page.locator("#flash")).to_contain_text("done")
        task_id = approved["task_ids"][0]
        listed = server.api("GET", "/api/v1/planner/tasks").json()
        items = listed if isinstance(listed, list) else listed["items"]
        assert next(t for t in items if t["id"] == task_id)["status"] in ("done", "completed")
        runs = server.api(
            "GET", "/api/v1/planner/execution-runs", params={"task_id": task_id}
        ).json()["items"]
    else:
        expect(tasks).to_contain_text(f"#{plan_id}")
        expect(tasks).to_contain_text("cannot be marked done here")
        row = tasks.locator("tr", has_text=title).first
        row.get_by_label(f"Hours worked on {title}").fill("0.25")
        row.get_by_role("button", name="Log time").click()
        expect(page.locator("#flash")).to_contain_text("Logged 0.25 h")
        template = approved["plan"]["process_template_id"]
        runs = server.api(
            "GET", "/api/v1/planner/execution-runs", params={"process_template_id": template}
        ).json()["items"]
        assert [r["actual_hours"] for r in runs] == [0.25]
    # Hours count on the day their work began, read from the run the click made: 0.25 h
    # logged "ending now" in the first quarter hour after midnight began yesterday, and
    # today's reflection rightly shows none (the page without task endpoints starts its run
    # no earlier than midnight).
    (run,) = runs
    began = datetime.fromisoformat(run["started_at"]).astimezone(ZoneInfo(TIMEZONE)).date()
    # Headers and hours are never broken inside a word: the columns squeezed them to
    # "ESTI / MAT / E", "D / UE" and "0.25 / h" (text may break anywhere in the page, so
    # a long stored word never widens it).
    assert broken_cells(page, "#tasks th") == []
    assert broken_cells(page, "#tasks td.num", one_line=True) == []
    shot(page, "today")

    page.goto(server.url + "/ui/reflections")
    page.get_by_role("button", name="Reflect on today").click()
    expect(page.locator("#flash")).to_contain_text("Reflected on")
    today = datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    entry = page.locator(f'#timeline li[data-day="{today}"]')
    expect(entry).to_contain_text("h worked")
    stored = server.api("GET", "/api/v1/observer/reflections", params={"mode": "daily"}).json()
    assert stored[0]["period_start"] == today
    worked = stored[0]["report"]["numbers"]["hours_actual"]
    if began.isoformat() == today:
        assert worked >= 0.25
    else:
        reflected = server.api(
            "POST", "/api/v1/observer/reflect", json={"mode": "daily", "date": began.isoformat()}
        )
        assert reflected.json()["report"]["numbers"]["hours_actual"] >= 0.25
    expect(entry).to_contain_text(f"{worked:g} h worked")
    page.get_by_role("button", name="Reflect on this week").click()
    expect(page.locator("#flash")).to_contain_text(" – ")  # a week: first – last day
    expect(page.locator("#chart svg")).to_be_visible()
    weekly = server.api("GET", "/api/v1/observer/reflections", params={"mode": "weekly"}).json()
    week = weekly[0]["period_start"]
    row = page.locator(f'#chart tr[data-week="{week}"]')
    expect(row).to_contain_text(f"{weekly[0]['report']['numbers']['hours_actual']:.2f}")
    expect(page.locator(f'#chart rect[data-week="{week}"][data-kind="actual"]')).to_have_count(1)
    expect(row).not_to_contain_text("reflected on since")
    # A day reflected on after its week: the week's figures may miss what it counted, and
    # the chart said nothing of it.
    page.get_by_role("button", name="Reflect on today").click()
    expect(row).to_contain_text("a day of this week was reflected on since")
    page.get_by_role("button", name="Reflect on this week").click()
    expect(row).not_to_contain_text("reflected on since")
    # A pattern shows what its runs measured (their estimate against their hours) apart
    # from the whole workflow's estimate: "estimate 5, mean actual 0.25, variance 0%" read
    # as a twentieth of the estimate for a quarter hour task done on time.
    (pattern,) = [p for p in server.api("GET", "/api/v1/observer/patterns").json() if p["runs"]]
    row = page.locator("#patterns tr", has_text=pattern["workflow"])
    measured = f"{pattern['mean_estimated_hours']:g} → {pattern['mean_actual_hours']:g} h"
    expect(row).to_contain_text(measured)
    expect(page.locator("#patterns thead")).to_contain_text("Workflow estimate")
    # The count is of engagements: "Runs 3" read against a plan's "from 24 past task runs".
    expect(page.locator("#patterns thead")).to_contain_text("Engagements")
    shot(page, "reflections")


def test_mark_done_at_an_earlier_time_today(page: Page, server: Server) -> None:
    """The Done button takes an optional time today: reflections count the task where it was
    finished, not where the user got round to clicking. A time still to come is refused."""
    assert server.features["tasks"]
    zone = ZoneInfo(TIMEZONE)
    # The browser's clock at 15:00 yesterday: both times below are then in the server's past
    # whatever the hour the suite runs (the server keeps a finish time no later than its now).
    afternoon = (datetime.now(zone) - timedelta(days=1)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    page.clock.set_fixed_time(afternoon)
    plan = server.api("POST", "/api/v1/planner/plan", json={"intent": "Onboard client Orbit"})
    plan_id = plan.json()["id"]
    approved = server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").json()
    try:
        task_id = approved["task_ids"][0]
        task = server.api("GET", f"/api/v1/planner/tasks/{task_id}").json()
        page.goto(server.url + "/ui/today")
        row = page.locator(f'#tasks tr[data-task="{task_id}"]')
        when = row.get_by_label(f"Finished time of {task['title']} (empty: now)")

        when.fill("16:30")
        row.get_by_role("button", name=f"Mark “{task['title']}” done").click()
        expect(row.locator('.err[data-for="finished_at"]')).to_contain_text("still to come")
        assert server.api("GET", f"/api/v1/planner/tasks/{task_id}").json()["status"] != "done"

        when.fill("09:30")
        row.get_by_role("button", name=f"Mark “{task['title']}” done").click()
        expect(page.locator("#flash")).to_contain_text("done")
        done = server.api("GET", f"/api/v1/planner/tasks/{task_id}").json()
        assert done["status"] == "done"
        finished = datetime.fromisoformat(done["finished_at"]).astimezone(zone)
        assert finished == afternoon.replace(hour=9, minute=30)
    finally:
        # The server is shared by the whole session: an approved plan would crowd later weeks.
        server.api("POST", f"/api/v1/planner/plans/{plan_id}/status", json={"status": "cancelled"})


def test_mark_done_on_a_page_left_open_past_midnight_is_the_new_day(
    page: Page, server: Server
) -> None:
    """A time is of the day it is entered on: on a page loaded the evening before, "09:30"
    was yesterday's 09:30, and reflections counted the task a day (or a week) early."""
    assert server.features["tasks"]
    zone = ZoneInfo(TIMEZONE)
    # Both days in the past: the server keeps a finish time no later than its real now.
    morning = (datetime.now(zone) - timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    page.clock.set_fixed_time(morning - timedelta(hours=12))  # the evening before, 22:00
    plan = server.api("POST", "/api/v1/planner/plan", json={"intent": "Onboard client Vega"})
    plan_id = plan.json()["id"]
    approved = server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").json()
    try:
        task_id = approved["task_ids"][0]
        task = server.api("GET", f"/api/v1/planner/tasks/{task_id}").json()
        page.goto(server.url + "/ui/today")
        row = page.locator(f'#tasks tr[data-task="{task_id}"]')
        when = row.get_by_label(f"Finished time of {task['title']} (empty: now)")
        expect(when).to_be_visible()
        page.clock.set_fixed_time(morning)  # the page left open overnight
        when.fill("09:30")
        row.get_by_role("button", name=f"Mark “{task['title']}” done").click()
        expect(page.locator("#flash")).to_contain_text("done")
        done = server.api("GET", f"/api/v1/planner/tasks/{task_id}").json()
        finished = datetime.fromisoformat(done["finished_at"]).astimezone(zone)
        assert finished == morning.replace(hour=9, minute=30)
    finally:
        server.api("POST", f"/api/v1/planner/plans/{plan_id}/status", json={"status": "cancelled"})


def test_free_time_today_is_not_called_a_meeting(page: Page, server: Server) -> None:
    """A declined invitation is stored as free time: Today labelled it "meeting"."""
    tz = ZoneInfo(TIMEZONE)
    today = datetime.now(tz).date()
    start = datetime.combine(today, datetime.min.time(), tz).replace(hour=12)
    for title, busy in (("Declined sync", False), ("Client call", True)):
        body = {
            "title": title,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "busy": busy,
        }
        assert server.api("POST", "/api/v1/calendar/events", json=body).status_code == 201
    page.goto(server.url + "/ui/today")
    blocks = page.locator("#blocks")
    expect(blocks.locator("li", has_text="Declined sync").locator(".badge")).to_have_text("free")
    expect(blocks.locator("li", has_text="Client call").locator(".badge")).to_have_text("meeting")
