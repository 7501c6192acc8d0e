"""`almanac calendar import|add`: the built-in calendar from the command line.

Like the memory commands, these use a running server when one serves the calendar API (so
there is one writer), else run the service in-process in their own unit of work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import httpx
import typer
from pydantic import BaseModel, ValidationError

from almanac.calendars.ics import MAX_ICS_BYTES
from almanac.calendars.schemas import EventIn, EventOut, ImportOut, OptionalWindow
from almanac.calendars.service import CalendarService
from almanac.cli.runtime import local_state, run, server_url
from almanac.config import Settings
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.state import AppState

calendar_app = typer.Typer(
    help="The built-in calendar: add events, import .ics files.", no_args_is_help=True
)
BASE = "/api/v1/calendar"
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Server URL (default: a running local server if any)")
]


class CalendarClient(Protocol):
    """The built-in calendar's operations, in-process or over HTTP."""

    async def add(self, body: EventIn) -> tuple[EventOut, bool]: ...
    async def import_ics(self, data: bytes, window: OptionalWindow) -> ImportOut: ...


class LocalCalendarClient:
    """Runs the service directly, one committed transaction per call."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def _run(self, call: Callable[[CalendarService], Awaitable[T]]) -> T:
        async with self.state.sessionmaker() as session:
            uow = UnitOfWork(session)
            service = CalendarService(session, timezone=self.state.settings.timezone)
            try:
                result = await call(service)
            except BaseException:
                await uow.rollback()
                raise
            await uow.commit()
            return result

    async def add(self, body: EventIn) -> tuple[EventOut, bool]:
        """Create a user event; (event, created)."""
        return await self._run(lambda s: s.create_event(body))

    async def import_ics(self, data: bytes, window: OptionalWindow) -> ImportOut:
        """Import an .ics file's events."""
        return await self._run(lambda s: s.import_ics(data, window))


class HttpCalendarClient:
    """Talks to a server's /api/v1/calendar."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"server unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise AlmanacError(str(detail), response.status_code)
        return response

    async def add(self, body: EventIn) -> tuple[EventOut, bool]:
        """Create a user event; (event, created)."""
        response = await self._send("POST", f"{BASE}/events", json=body.model_dump(mode="json"))
        return EventOut.model_validate(response.json()), response.status_code == 201

    async def import_ics(self, data: bytes, window: OptionalWindow) -> ImportOut:
        """Import an .ics file's events."""
        params = window.model_dump(mode="json", exclude_none=True)
        headers = {"content-type": "text/calendar"}
        response = await self._send(
            "POST", f"{BASE}/import", content=data, params=params, headers=headers
        )
        return ImportOut.model_validate(response.json())


async def _serves_calendar(url: str) -> bool:
    """Whether a server answers at `url` with the calendar API mounted."""
    now = datetime.now(UTC)
    # An empty one-second window: cheap, and proves the route exists (404 when not mounted).
    params = {"start": now.isoformat(), "end": (now + timedelta(seconds=1)).isoformat()}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=0.5) as client:
            response = await client.get(f"{BASE}/events", params=params)
            return response.status_code == 200
    except httpx.HTTPError:
        return False


@asynccontextmanager
async def calendar_client(settings: Settings, url: str | None) -> AsyncIterator[CalendarClient]:
    """A running server's calendar API (or the one at `url`), else the service in-process."""
    target = server_url(settings, url)
    if url is not None or await _serves_calendar(target):
        async with httpx.AsyncClient(base_url=target, timeout=120) as client:
            yield HttpCalendarClient(client)
        return
    async with local_state(settings) as state:
        yield LocalCalendarClient(state)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "input"
            typer.echo(f"error: {field}: {e['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from exc


@calendar_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    start: Annotated[str | None, typer.Option(help="Window start, ISO 8601 with offset")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO 8601 with offset")] = None,
    url: UrlOpt = None,
) -> None:
    """Import an .ics file as your own events (default window: 30 days ago to a year ahead).

    Recurring events are expanded within the window; re-importing the file is safe.
    """
    window = _validated(OptionalWindow, {"start": start, "end": end})
    if file.stat().st_size > MAX_ICS_BYTES:
        typer.echo(f"error: file: larger than {MAX_ICS_BYTES} bytes", err=True)
        raise typer.Exit(2)
    data = file.read_bytes()

    async def go() -> ImportOut:
        async with calendar_client(Settings(), url) as client:
            return await client.import_ics(data, window)

    out = run(go)
    typer.echo(
        f"imported {out.created} events ({out.updated} updated, {out.unchanged} unchanged, "
        f"{out.skipped} skipped)"
    )


@calendar_app.command("add")
def add(
    title: Annotated[str, typer.Argument(help="What the event is")],
    start: Annotated[str, typer.Option(help="ISO 8601 with offset, e.g. 2026-03-02T09:00+01:00")],
    end: Annotated[str, typer.Option(help="ISO 8601 with offset; after --start")],
    description: Annotated[str, typer.Option(help="Longer text")] = "",
    free: Annotated[bool, typer.Option("--free", help="Does not block time")] = False,
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key")] = None,
    url: UrlOpt = None,
) -> None:
    """Add one of your own events to the built-in calendar."""
    body = _validated(
        EventIn,
        {
            "title": title,
            "start": start,
            "end": end,
            "description": description,
            "busy": not free,
            "idempotency_key": key,
        },
    )

    async def go() -> tuple[EventOut, bool]:
        async with calendar_client(Settings(), url) as client:
            return await client.add(body)

    event, created = run(go)
    extra = "" if created else " (already present)"
    when = f"{event.start.isoformat()} to {event.end.isoformat()}"
    typer.echo(f"added event #{event.id} {event.title!r} {when}{extra}")
