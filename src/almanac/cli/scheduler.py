"""`almanac schedule PLAN_ID` (preview as a week view, confirm, write) and `almanac agenda`.

Like the memory commands, they use a running server when one answers and otherwise run the
scheduler in-process, one UnitOfWork per call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from almanac.calendars.factory import build_calendar
from almanac.cli.runtime import run, server_url
from almanac.config import Settings
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.scheduler.blocks import BlockService
from almanac.scheduler.schemas import BlockOut, CalendarOut, ScheduleIn, ScheduleOut
from almanac.scheduler.service import SchedulerService
from almanac.state import AppState, build_state

console = Console()
T = TypeVar("T")
API = "/api/v1/scheduler"


class Backend(Protocol):
    async def schedule(self, body: ScheduleIn) -> ScheduleOut: ...
    async def calendar(self, start: date, end: date) -> CalendarOut: ...


class LocalBackend:
    """The scheduler in this process: each call is one committed transaction."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def _call(self, fn: Callable[[SchedulerService], Awaitable[T]]) -> T:
        async with self.state.sessionmaker() as session:
            uow = UnitOfWork(session)
            settings = self.state.settings
            calendar = build_calendar(
                settings.calendar,
                session=session,
                cache=self.state.cache,
                timezone=settings.timezone,
            )
            try:
                result = await fn(SchedulerService(uow, calendar, self.state))
            except BaseException:
                await uow.rollback()
                raise
            finally:
                await calendar.close()
            await uow.commit()
            return result

    async def schedule(self, body: ScheduleIn) -> ScheduleOut:
        return await self._call(lambda s: s.schedule(body))

    async def calendar(self, start: date, end: date) -> CalendarOut:
        return await self._call(lambda s: BlockService(s).view(start, end))


class HttpBackend:
    """A running Planner API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _send(self, method: str, url: str, **kw: Any) -> Any:
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Planner API unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise AlmanacError(str(detail), response.status_code)
        return response.json()

    async def schedule(self, body: ScheduleIn) -> ScheduleOut:
        data = await self._send("POST", f"{API}/schedule", json=body.model_dump(mode="json"))
        return ScheduleOut.model_validate(data)

    async def calendar(self, start: date, end: date) -> CalendarOut:
        params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        return CalendarOut.model_validate(await self._send("GET", f"{API}/calendar", params=params))


async def _planner_up(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=0.5) as client:
            response = await client.get("/health")
            return response.status_code == 200 and "planner" in response.json().get("services", [])
    except (httpx.HTTPError, ValueError):
        return False


@asynccontextmanager
async def backend(settings: Settings, url: str | None) -> AsyncIterator[Backend]:
    """A running server (when `--url` is given or one answers), else in-process."""
    target = server_url(settings, url)
    if url is not None or await _planner_up(target):
        async with httpx.AsyncClient(base_url=target, timeout=180) as client:
            yield HttpBackend(client)
        return
    state = await build_state(settings)
    try:
        yield LocalBackend(state)
    finally:
        await state.close()


def week_view(out: ScheduleOut) -> list[Table]:
    """One table per week: days as columns, each day's blocks listed with their times."""
    tz = ZoneInfo(out.timezone)
    first = out.window_start.astimezone(tz).date()
    last = (out.window_end.astimezone(tz) - timedelta(seconds=1)).date()
    by_day: dict[date, list[BlockOut]] = {}
    for b in sorted(out.blocks, key=lambda b: b.start):
        by_day.setdefault(b.start.astimezone(tz).date(), []).append(b)
    tables = []
    day = first - timedelta(days=first.weekday())
    while day <= last:
        days = [day + timedelta(n) for n in range(7)]
        table = Table(title=f"plan {out.plan_id}: week of {day:%d %b %Y}", show_lines=True)
        cells = []
        for d in days:
            table.add_column(f"{d:%a %d}", overflow="fold")
            cells.append(
                "\n".join(
                    f"{b.start.astimezone(tz):%H:%M}-{b.end.astimezone(tz):%H:%M} {b.title}"
                    for b in by_day.get(d, [])
                )
                if first <= d <= last
                else ""
            )
        table.add_row(*cells)
        tables.append(table)
        day += timedelta(days=7)
    return tables


def show(out: ScheduleOut) -> None:
    """Print the week view, what was not placed and the warnings."""
    for table in week_view(out):
        console.print(table)
    for u in out.unplaced:
        console.print(f"[yellow]not placed:[/yellow] {u.title} ({u.task_key}): {u.cause}")
    for w in out.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    if out.preferences.applied:
        how = "LLM" if out.preferences.llm_used else "rules"
        console.print(f"preferences ({how}): " + "; ".join(out.preferences.applied))
    console.print(f"solver: {out.solver.status} in {out.solver.wall_time_seconds:g} s")


def _start(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        typer.echo(f"error: start: not a date (YYYY-MM-DD): {value!r}", err=True)
        raise typer.Exit(2) from exc


UrlOpt = Annotated[str | None, typer.Option("--url", help="Planner API URL")]


def schedule(
    plan_id: Annotated[int, typer.Argument(help="The plan to place in the calendar")],
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD")] = None,
    days: Annotated[int, typer.Option("--days", help="Horizon in days (1-60)")] = 14,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write without asking")] = False,
    url: UrlOpt = None,
) -> None:
    """Preview a plan's schedule as a week view, then write it to the calendar."""
    try:
        body = ScheduleIn(plan_id=plan_id, start_date=_start(start), horizon_days=days)
    except ValidationError as exc:
        for e in exc.errors():
            typer.echo(f"error: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}", err=True)
        raise typer.Exit(2) from exc

    async def preview() -> ScheduleOut:
        async with backend(Settings(), url) as b:
            return await b.schedule(body)

    out = run(preview)
    show(out)
    if not out.blocks:
        console.print("nothing to write")
        return
    if not out.violations and not yes and not typer.confirm("Write these blocks to the calendar?"):
        console.print("not written")
        return

    async def write() -> ScheduleOut:
        async with backend(Settings(), url) as b:
            return await b.schedule(body.model_copy(update={"dry_run": False}))

    done = run(write)
    if not done.applied:
        console.print("[red]not written:[/red] " + "; ".join(done.violations or done.warnings))
        raise typer.Exit(1)
    if [(b.almanac_id, b.start) for b in done.blocks] != [
        (b.almanac_id, b.start) for b in out.blocks
    ]:
        show(done)  # the write solved again and differs from the preview: show what was written
    cal = done.calendar
    if cal is not None:
        console.print(
            f"written to {cal.provider}: {len(cal.created)} created, "
            f"{len(cal.updated)} updated, {len(cal.deleted)} removed"
        )


def agenda(
    days: Annotated[int, typer.Option("--days", min=1, max=92, help="How many days")] = 7,
    url: UrlOpt = None,
) -> None:
    """Print the coming days from the calendar: Almanac's blocks and your events."""
    settings = Settings()
    today = datetime.now(ZoneInfo(settings.timezone)).date()

    async def go() -> CalendarOut:
        async with backend(settings, url) as b:
            return await b.calendar(today, today + timedelta(days=days - 1))

    out = run(go)
    table = Table(title=f"agenda: {days} day(s) from {today:%a %d %b}")
    for col in ("day", "time", "what", "kind"):
        table.add_column(col, overflow="fold")
    tz = ZoneInfo(settings.timezone)
    for e in out.events:
        start, end = e.start.astimezone(tz), e.end.astimezone(tz)
        when = "all day" if e.all_day else f"{start:%H:%M}-{end:%H:%M}"
        kind = "almanac" if e.almanac else ("busy" if e.busy else "free")
        table.add_row(f"{start:%a %d %b}", when, e.title, kind)
    if not out.events:
        console.print("nothing in the calendar")
        return
    console.print(table)
