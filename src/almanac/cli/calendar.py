"""`almanac calendar import|add|feed-url`: the built-in calendar from the command line.

Like the other commands, these call the API: a running server when one answers (so there
is one writer), else the same app in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from almanac.calendars.schemas import EventIn, EventOut, FeedUrlOut, ImportOut, OptionalWindow
from almanac.cli import connect
from almanac.cli.files import UnreadableFile, read_input
from almanac.cli.output import emit
from almanac.cli.runtime import answer, api_client, run
from almanac.cli.validation import validated
from almanac.cli.when import local_time, zone_name
from almanac.config import Settings

calendar_app = typer.Typer(
    help="The built-in calendar: add events, import .ics files.", no_args_is_help=True
)
BASE = "/api/v1/calendar"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Server URL (default: a running local server if any)")
]


@calendar_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    start: Annotated[str | None, typer.Option(help="Window start, ISO 8601 with offset")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO 8601 with offset")] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Your email address: invitations it declined are free time"),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Import an .ics file as your own events (default window: 30 days ago to a year ahead).

    Recurring events are expanded within the window; re-importing the file is safe.
    Invitations you declined (by --address or ALMANAC_CALENDAR__USER_ADDRESSES) are free.
    """
    window = validated(OptionalWindow, {"start": start, "end": end})
    try:
        # The server's own bound is the same setting, read from the same environment.
        data = read_input(file, Settings().security.max_ics_bytes)
    except UnreadableFile as exc:
        typer.echo(f"error: file: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def go() -> ImportOut:
        async with api_client(Settings(), url) as client:
            response = await client.post(
                f"{BASE}/import",
                content=data,
                params={
                    **window.model_dump(mode="json", exclude_none=True),
                    **({"address": address} if address else {}),
                },
                headers={"content-type": "text/calendar"},
            )
            return ImportOut.model_validate(answer(response))

    out = run(go)
    if as_json:
        return emit(out.model_dump(mode="json"))
    typer.echo(
        f"imported {out.created} events ({out.updated} updated, {out.unchanged} unchanged, "
        f"{out.skipped} skipped)"
        + (
            f"; {out.removed} no longer in the file's recurring events removed"
            if out.removed
            else ""
        )
    )
    # Series read as continuous busy time take the calendar's hours (a spam invite may take
    # a week): said, as the API says it, before a schedule moves around them unexplained.
    for note in out.notes:
        typer.echo(f"note: {note}")


@calendar_app.command("add")
def add(
    title: Annotated[str, typer.Argument(help="What the event is")],
    start: Annotated[
        str,
        typer.Option(
            help="ISO 8601, e.g. 2026-03-02T09:00+01:00; without an offset it is read in "
            "ALMANAC_TIMEZONE"
        ),
    ],
    end: Annotated[str, typer.Option(help="ISO 8601 (as --start); after --start")],
    description: Annotated[str, typer.Option(help="Longer text")] = "",
    free: Annotated[bool, typer.Option("--free", help="Does not block time")] = False,
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Add one of your own events to the built-in calendar."""
    settings = Settings()
    start, start_local = local_time(start, zone_name(), "start")
    end, end_local = local_time(end, zone_name(), "end")
    body = validated(
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
        async with api_client(settings, url) as client:
            response = await client.post(f"{BASE}/events", json=body.model_dump(mode="json"))
            # 201: created; 200: the idempotency key was seen before.
            return EventOut.model_validate(answer(response)), response.status_code == 201

    event, created = run(go)
    zone_note = (
        f"times without an offset were read in {zone_name()} (ALMANAC_TIMEZONE)"
        if start_local or end_local
        else ""
    )
    if as_json:
        if zone_note:
            typer.echo(f"note: {zone_note}", err=True)  # stdout stays one JSON document
        return emit(event.model_dump(mode="json"))
    extra = "" if created else " (already present)"
    # On the user's clock: the API answers in UTC, and "13:00+00:00" for a call typed as
    # 14:00+01:00 read as the wrong hour.
    tz = ZoneInfo(zone_name())
    when = f"{event.start.astimezone(tz).isoformat()} to {event.end.astimezone(tz).isoformat()}"
    typer.echo(f"added event #{event.id} {event.title!r} {when}{extra}")
    if zone_note:
        typer.echo(zone_note)


@calendar_app.command("rm")
def rm(
    event_id: Annotated[int, typer.Argument(min=1, help="The event's id (from `calendar add`)")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Delete one of your own events (Almanac's blocks move with `almanac replan`)."""
    settings = Settings()

    async def go() -> dict[str, object]:
        async with api_client(settings, url) as client:
            names = {"event_id": "EVENT_ID"}
            out: dict[str, object] = answer(await client.delete(f"{BASE}/events/{event_id}"), names)
            return out

    event = run(go)
    if as_json:
        return emit(event)
    typer.echo(f"removed event #{event['id']} ({event['uid']})")


@calendar_app.command("feed-url")
def feed_url(as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Print the .ics feed's secret subscribe address (needs an admin key).

    Anyone with it can read the calendar. To change it, delete `ics-feed-token` in the data
    folder and restart (or change ALMANAC_CALENDAR__ICS_FEED_TOKEN).
    """
    settings = Settings()

    async def go() -> FeedUrlOut:
        async with api_client(settings, url) as client:
            return FeedUrlOut.model_validate(answer(await client.get(f"{BASE}/feed-url")))

    out = run(go)
    base, _ = connect.target(url, "planner", settings.data_dir)
    if base is None:  # answered in-process: the address `almanac serve` will listen on
        host = settings.server.host
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        out.url = f"http://{host}:{settings.server.port}{out.path}"
    if as_json:
        return emit(out.model_dump(mode="json"))
    typer.echo(out.url)
