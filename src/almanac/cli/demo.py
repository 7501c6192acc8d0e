"""`almanac demo`: the whole loop on the embedded defaults, with no LLM, step by step.

Remember preferences → plan an intent from the workflow library → schedule it into the
built-in calendar around meetings → record execution runs that overrun → reflect → the
pattern fact and the adjusted estimate the next plan uses. Everything goes through the
public API (in-process), so the demo exercises the same code a user's requests do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
import typer
from rich.console import Console

from almanac.cli.runtime import answer, api_client, run
from almanac.config import NoLLMSettings, Settings

console = Console()
OVERRUN = 1.5  # the demo's work takes half as long again as the library estimates
INTENT = "Run a marketing audit for {client}"
CLIENTS = ("Acme", "Globex", "Initech")


@dataclass
class DemoResult:
    """What each link of the loop produced, for the test that checks them."""

    preference_fact_ids: list[int] = field(default_factory=list)
    first_plan: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    meetings: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    reflection: dict[str, Any] = field(default_factory=dict)
    pattern_facts: list[dict[str, Any]] = field(default_factory=list)
    next_plan: dict[str, Any] = field(default_factory=dict)


def _monday_after(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


async def run_demo(client: httpx.AsyncClient, zone: str, say: Callable[[str], None]) -> DemoResult:
    """Run the loop against the API behind `client`; `say` narrates each step."""
    tz = ZoneInfo(zone)
    out = DemoResult()

    async def call(method: str, path: str, **kw: Any) -> Any:
        return answer(await client.request(method, path, **kw))

    say("1. Import the starter workflow library")
    await call("POST", "/api/v1/planner/workflows/import")

    say("2. Remember preferences (salient, so they become facts)")
    for text, category in (
        ("Deep work in the morning, before noon", "focus"),
        ("No meetings before 10:00", "meetings"),
    ):
        body = {
            "content": text,
            "salience_score": 0.9,
            "memory_scope": "user",
            "idempotency_key": f"demo-pref-{category}",
            "metadata": {
                "subject_type": "user",
                "subject_id": "me",
                "fact_type": "preference",
                "category": category,
            },
        }
        remembered = await call("POST", "/api/v1/memory/remember", json=body)
        out.preference_fact_ids.append(remembered["promoted_to_fact_id"])
        say(f"   remembered: {text!r} → fact #{remembered['promoted_to_fact_id']}")

    monday = _monday_after(datetime.now(tz).date())
    say(f"3. Put meetings in the built-in calendar (week of {monday.isoformat()})")
    for offset, hour, title in ((0, 10, "Team sync"), (1, 14, "Client call"), (2, 11, "Dentist")):
        start = datetime.combine(monday + timedelta(days=offset), time(hour), tz)
        event = await call(
            "POST",
            "/api/v1/calendar/events",
            json={
                "title": title,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "idempotency_key": f"demo-meeting-{offset}",
            },
        )
        out.meetings.append(event)
        say(f"   {title}: {start:%a %H:%M}")

    # Last week's Monday (`monday` is next week's): work is recorded once it is done.
    week_ago = monday - timedelta(days=14)
    for n, name in enumerate(CLIENTS):
        intent = INTENT.format(client=name)
        say(f"4.{n + 1} Plan {intent!r} (no LLM: from the library)")
        plan = await call("POST", "/api/v1/planner/plan", json={"intent": intent})
        changes = plan.get("calibration", [])
        # Later plans of the same workflow differ only by calibration: say so, with the
        # library's own total beside it, so the numbers do not look arbitrary.
        shift = sum(c["to_hours"] - c["from_hours"] for c in changes)
        why = (
            f" (library estimate {plan['total_hours'] - shift:g} h, calibrated from the runs "
            f"recorded so far)"
            if changes
            else " (the library estimate)"
        )
        say(f"   plan #{plan['id']}: {plan['plan_title']} · {plan['total_hours']:g} h{why}")
        approved = await call("POST", f"/api/v1/planner/plans/{plan['id']}/approve")
        if n == 0:
            out.first_plan = plan
            say("   schedule it into the built-in calendar, around the meetings")
            out.schedule = await call(
                "POST",
                "/api/v1/scheduler/schedule",
                json={
                    "plan_id": plan["id"],
                    "start_date": monday.isoformat(),
                    "horizon_days": 14,
                    "dry_run": False,
                },
            )
            blocks = out.schedule.get("blocks", [])
            say(f"   {len(blocks)} blocks placed, {len(out.schedule.get('unplaced', []))} unplaced")
        say(f"   record the work and close each task: every one takes {OVERRUN:g}x the library's")
        started = datetime.combine(week_ago + timedelta(days=n), time(9), tz)
        tasks = [t for s in plan["sop"]["steps"] for t in s["tasks"]]
        library = {c["task_id"]: c["from_hours"] for c in plan.get("calibration", [])}
        for task_id, task in zip(approved["task_ids"], tasks, strict=True):
            # The work takes what it takes, whatever the plan said.
            hours = library.get(task["id"], task["estimate_hours"]) * OVERRUN
            run_ = await call(
                "POST",
                "/api/v1/planner/execution-runs",
                json={
                    "task_id": task_id,
                    "started_at": started.isoformat(),
                    "run_identifier": f"demo-{plan['id']}-{task['id']}",
                },
            )
            stopped = await call(
                "POST",
                f"/api/v1/planner/execution-runs/{run_['id']}/stop",
                json={
                    "ended_at": (started + timedelta(hours=hours)).isoformat(),
                    "actual_hours": hours,
                },
            )
            out.runs.append(stopped)
            # Done: learning reads a task's hours once it is finished.
            done = {"status": "done"}
            await call("PATCH", f"/api/v1/planner/tasks/{task_id}", json=done)

    say("5. Reflect on last week")
    out.reflection = await call(
        "POST", "/api/v1/observer/reflect", params={"mode": "weekly", "date": week_ago.isoformat()}
    )
    recommendations = out.reflection.get("report", {}).get("recommendations", [])
    for line in recommendations[:3]:
        say(f"   recommendation: {line}")
    if len(recommendations) > 3:
        say(
            f"   … and {len(recommendations) - 3} more "
            f"(almanac reflect --mode weekly --date {week_ago.isoformat()})"
        )

    facts = await call(
        "GET", "/api/v1/memory/facts", params={"subject_type": "workflow", "fact_type": "pattern"}
    )
    out.pattern_facts = list(facts)
    for fact in out.pattern_facts[:3]:
        say(f"   fact: {fact['content']}")
    if len(out.pattern_facts) > 3:
        say(
            f"   … and {len(out.pattern_facts) - 3} more facts "
            "(almanac facts --subject-type workflow --type pattern)"
        )

    say("6. Plan again: the estimates have learned")
    out.next_plan = await call(
        "POST", "/api/v1/planner/plan", json={"intent": INTENT.format(client="Umbrella")}
    )
    for change in out.next_plan.get("calibration", []):
        say(
            f"   {change['task_id']}: {change['from_hours']:g} h → {change['to_hours']:g} h "
            f"({change['reason']})"
        )
    say(
        f"   total {out.first_plan['total_hours']:g} h before, "
        f"{out.next_plan['total_hours']:g} h now"
    )
    return out


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the demo's database here (default: a temporary folder)"),
    ] = None,
) -> None:
    """Run the whole loop on a fresh embedded database, with no LLM, printing each step."""
    settings = Settings()
    temporary = None
    if settings.effective_database_url is None:
        if data_dir is None:
            temporary = tempfile.TemporaryDirectory(prefix="almanac-demo-")
            data_dir = Path(temporary.name)
        settings = settings.model_copy(update={"data_dir": data_dir})
    settings.llm = NoLLMSettings()  # the demo shows the deterministic path

    async def go() -> DemoResult:
        # In-process on purpose: the demo must not write into a running server's data.
        async with api_client(settings, None, in_process=True) as client:
            return await run_demo(client, settings.timezone, console.print)

    try:
        run(go)
    finally:
        if temporary is not None:
            temporary.cleanup()
    console.print(f"[green]done[/green] ({datetime.now(UTC):%H:%M:%S} UTC)")
