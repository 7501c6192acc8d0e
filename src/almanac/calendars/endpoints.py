"""HTTP routes of the built-in calendar under /api/v1/calendar.

These are the built-in calendar's own API: they read and write `calendar_entries` whichever
provider scheduling is configured to use.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from almanac.auth.deps import AdminOnly, MaybePrincipal
from almanac.calendars.factory import user_addresses
from almanac.calendars.feed_token import feed_path, feed_token
from almanac.calendars.ics_limits import MAX_ICS_BYTES, IcsLimits
from almanac.calendars.schemas import (
    DeletedEventOut,
    EventIn,
    EventOut,
    FeedUrlOut,
    ImportOut,
    OptionalWindow,
    WindowQuery,
)
from almanac.calendars.service import CalendarService
from almanac.config.checks import MailAddress
from almanac.deps import State, UoW
from almanac.errors import DependencyUnavailable, PayloadTooLarge, Unauthorized
from almanac.problems import answers
from almanac.routing import open_query, replayed_as_200
from almanac.types import AwareDatetime, BigId, SafeStr

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])

ICS_MEDIA_TYPE = "text/calendar"


def get_calendar_service(uow: UoW, state: State) -> CalendarService:
    c = state.settings.calendar
    limits = IcsLimits(
        c.ics_max_occurrences,
        c.ics_max_rule_steps,
        c.ics_time_budget_seconds,
        state.settings.security.max_ics_bytes,
    )
    return CalendarService(
        uow.session,
        timezone=state.settings.timezone,
        ics_limits=limits,
        addresses=user_addresses(c),
    )


Calendar = Annotated[CalendarService, Depends(get_calendar_service)]
Id = Annotated[BigId, Path()]
# Parsed by FastAPI, checked (aware, in range, ordered) by the window models.
When = Annotated[AwareDatetime | None, Query()]


def check_feed_token(expected: str | None, given: str | None) -> None:
    """Raise Unauthorized unless `given` matches the feed's token (None: no token works)."""
    # Constant time, so the answer's timing does not reveal how much of a guess was right.
    if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(
            "the calendar feed needs ?token= with its secret token (shown on the dashboard's "
            "settings page and by `almanac calendar feed-url`) or an API key"
        )


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes without buffering it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_ICS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {ICS_MEDIA_TYPE: {"schema": {"type": "string", "maxLength": MAX_ICS_BYTES}}},
    }
}


@router.get(
    "/feed.ics",
    response_class=Response,
    responses={
        200: {"content": {ICS_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        304: {"description": "Unchanged since the ETag sent in If-None-Match"},
    },
    openapi_extra=open_query(),
)
async def feed(
    request: Request,
    calendar: Calendar,
    state: State,
    principal: MaybePrincipal,
    token: Annotated[SafeStr | None, Query(max_length=1000)] = None,
    start: When = None,
    end: When = None,
) -> Response:
    """The built-in calendar as an .ics feed (default: from 30 days ago on).

    Needs `?token=` with the feed's secret token (calendar apps send no headers) or an API
    key; it is never open.
    """
    if principal is None:  # any valid key may read
        check_feed_token(feed_token(state.settings), token)
    window = OptionalWindow.model_validate({"start": start, "end": end})
    body = await calendar.feed(window)
    # Calendar apps poll every few minutes: with the ETag, an unchanged feed is a 304
    # (the whole file was sent each time). "no-cache" still has each poll ask.
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    asked = request.headers.get("if-none-match") or ""
    if etag in (tag.strip().removeprefix("W/") for tag in asked.split(",")) or asked == "*":
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    headers["Content-Disposition"] = 'inline; filename="almanac.ics"'
    return Response(content=body, media_type=ICS_MEDIA_TYPE, headers=headers)


# HEAD: what a calendar app or `curl -I` asks before it fetches (it was a 405).
router.add_api_route(
    "/feed.ics", feed, methods=["HEAD"], response_class=Response, include_in_schema=False
)


@router.get("/feed-url", dependencies=[AdminOnly], responses=answers(503))
async def feed_url(request: Request, state: State, response: Response) -> FeedUrlOut:
    """The feed's secret subscribe address, token included (admin only: it is a credential)."""
    token = feed_token(state.settings)
    if token is None:
        raise DependencyUnavailable(
            f"no feed token: the data folder {state.settings.data_dir} cannot be written; "
            "set ALMANAC_CALENDAR__ICS_FEED_TOKEN"
        )
    response.headers["Cache-Control"] = "no-store"
    path = feed_path(token)
    source = "setting" if state.settings.calendar.ics_feed_token is not None else "data_folder"
    return FeedUrlOut(url=str(request.base_url).rstrip("/") + path, path=path, token_source=source)


@router.post("/events", status_code=status.HTTP_201_CREATED, responses=answers(409, 503))
async def create_event(body: EventIn, calendar: Calendar, response: Response) -> EventOut:
    """Add a user event; a retry with the same `idempotency_key` returns it with 200."""
    return replayed_as_200(response, await calendar.create_event(body))


@router.get("/events", responses=answers(503))
async def list_events(
    calendar: Calendar,
    start: Annotated[AwareDatetime, Query()],
    end: Annotated[AwareDatetime, Query()],
) -> list[EventOut]:
    """Every event (the user's and Almanac's blocks) overlapping [start, end)."""
    window = WindowQuery.model_validate({"start": start, "end": end})
    return await calendar.list_events(window)


@router.delete("/events/{event_id}", responses=answers(409, 503))
async def delete_calendar_event(event_id: Id, calendar: Calendar) -> DeletedEventOut:
    """Delete a user event (Almanac's blocks answer 409: replan instead)."""
    return await calendar.delete_event(event_id)


@router.post("/import", openapi_extra=_ICS_BODY, responses=answers(409, 503))
async def import_ics(
    request: Request,
    calendar: Calendar,
    start: When = None,
    end: When = None,
    address: Annotated[MailAddress | None, Query(max_length=300)] = None,
) -> ImportOut:
    """Import a raw .ics body (up to `security.max_ics_bytes`, 2 MiB by default) as user
    events; re-importing changes nothing.

    An invitation the user declined (their ATTENDEE with PARTSTAT=DECLINED) is stored as
    free time: the user is `address` (an email address, `mailto:` optional) and the
    addresses Almanac knows (`calendar.user_addresses`, a CalDAV login that is one)."""
    window = OptionalWindow.model_validate({"start": start, "end": end})
    data = await read_limited(request, calendar.ics_limits.max_bytes)
    return await calendar.import_ics(data, window, address)
