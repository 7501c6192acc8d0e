"""
title: Almanac
author: Almanac
description: Plan, schedule, remember and reflect with a self-hosted Almanac server.
version: 0.1.0
license: MIT
requirements: httpx>=0.27
"""

from __future__ import annotations

import asyncio
import hashlib
import json as _json
import math
import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, Field, ValidationError

Emitter = Callable[[dict[str, Any]], Awaitable[None]] | None


class AlmanacUnavailable(Exception):
    """A message the chat model can show the user as it is."""


# Marks that reorder or hide the text around them ("evil" shown as "live").
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(text: str) -> str:
    """Stored text with its control characters and bidi marks as visible escapes, as
    almanac.printable.visible (repeated here: this file imports nothing from almanac)."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI)
        else f"\\u{ord(ch):04x}"
        for ch in text
    )


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reasons(errors: list[dict[str, Any]]) -> list[str]:
    """Each field's reasons as `field: reason; reason`, once; the reason alone where the
    field is the whole request ("body") or the reason begins with it. The CLI and the MCP
    tools word problems the same way (almanac.http_problems; this file imports nothing
    from almanac, so the rule is repeated here and a test keeps the two alike)."""
    by_field: dict[str, list[str]] = {}
    for e in errors:
        message = str(e.get("message") or "").strip()
        if not message:
            continue
        said = by_field.setdefault(str(e.get("field") or ""), [])
        if message not in said:
            said.append(message)
    out: list[str] = []
    for field, said in by_field.items():
        if field in ("", "body"):
            out.extend(said)
            continue
        starts = re.compile(re.escape(field) + r"(?![\w.\[])")
        named = [m for m in said if starts.match(m)]
        out.extend(named)
        rest = [m for m in said if m not in named]
        if rest:
            out.append(f"{field}: {'; '.join(rest)}")
    return out


def _problem_message(detail: str, errors: list[dict[str, Any]]) -> str:
    """The problem as one plain line: a detail that only lists the fields' reasons gives way
    to them; another comes first, then the reasons it does not already say."""
    said = _reasons(errors)
    if not said:
        return detail
    rest = detail
    for e in errors:
        message = str(e.get("message") or "")
        if message:
            rest = rest.replace(f"{e.get('field')}: {message}", "").replace(message, "")
    if not rest.strip(" ;,.:()[]"):
        return "; ".join(said)
    said_by_detail = [e for e in errors if str(e.get("message")) in detail]
    unsaid = _reasons([e for e in errors if e not in said_by_detail])
    # A reason the detail gives in full, about a field it does not name: named first.
    unnamed = [
        f
        for f in dict.fromkeys(str(e.get("field") or "") for e in said_by_detail)
        if f not in ("", "body")
        and not re.search(r"(?<![\w.])" + re.escape(f) + r"(?![\w])", detail)
    ]
    text = f"{', '.join(unnamed)}: {detail}" if unnamed else detail
    return f"{text} ({'; '.join(unsaid)})" if unsaid else text


def _renamed(text: str, names: dict[str, str]) -> str:
    if not names:
        return text
    words = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")(?![\w])")
    return words.sub(lambda m: names[m.group(1)], text)


def _problem(response: httpx.Response, named: dict[str, str] | None = None) -> str:
    """The answer's problem in a line; each field in `named` (the API's name → the tool's
    argument) in the tool's words (as almanac.http_problems.Problem.named does)."""
    names = named or {}
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    errors = [
        {
            **e,
            "field": names.get(str(e.get("field")), e.get("field")),
            "message": _renamed(str(e.get("message") or ""), names),
        }
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    title = str(body.get("title") or response.reason_phrase or "error")
    detail = _problem_message(_renamed(str(body.get("detail") or title), names), errors)
    if response.status_code == 401:
        return f"Almanac rejected the API key: {detail}. Set a valid key in the tool's valves."
    if response.status_code == 403:
        return f"This Almanac API key may not do that: {detail}."
    return f"Almanac could not do that ({response.status_code}): {detail}"


# Open WebUI passes a model's arguments as they come: "3", 3.0, null, a 100,000-character
# query. Those that go into a URL or are computed with here are checked first, so the
# answer names the argument (before: a TypeError, or httpx's InvalidURL, escaped the tool).
ID_MAX = 2**63 - 1
CLIENT_ID_MAX = 2**31 - 1  # client ids are 32-bit in the API
QUERY_MAX = 2000  # the API's bound on a recall query


def _at(value: Any) -> str:
    """An instant the API gave on the schedule's clock, as "YYYY-MM-DD HH:MM"."""
    try:
        return f"{datetime.fromisoformat(str(value)):%Y-%m-%d %H:%M}"
    except ValueError:
        return str(value or "")


def _elsewhere(out: dict[str, Any], cap: int = 20) -> list[str]:
    """Other plans' blocks a schedule moves or adds: written with it, so shown with it (the
    first `cap` of each, then how many more: none is left out unsaid)."""
    moves = [m for m in out.get("moves", []) if m.get("plan_id") != out.get("plan_id")]
    placed = out.get("placed", [])
    lines = []
    for m in moves[:cap]:
        to = _at(m["to_start"]) if m.get("to_start") else "off the calendar"
        to = ", ".join([to] + [_at(a["start"]) for a in m.get("also_to", [])])
        lines.append(
            f"- moves plan #{m['plan_id']} {_clip(m['title'], 70)}: "
            f"{_at(m['from_start'])} -> {to} ({_clip(m['why'], 100)})"
        )
    if len(moves) > cap:
        lines.append(f"- and {len(moves) - cap} more moved blocks of other plans")
    for b in placed[:cap]:
        lines.append(f"- adds plan #{b['plan_id']} {_at(b['start'])} {_clip(b['title'], 70)}")
    if len(placed) > cap:
        lines.append(f"- and {len(placed) - cap} more added blocks of other plans")
    return lines


def _when(value: Any, zone: ZoneInfo | None) -> str:
    """A hit's instant on the user's wall clock, naming the zone (UTC, said so, when the
    zone is unknown): its date alone was UTC's, a day off the user's for an evening's
    memory west of Greenwich (or a night's east of it)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")[:10]
    if at.tzinfo is None:
        return str(value)[:10]
    if zone is None:
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def _span(start: Any, end: Any, all_day: Any = False) -> str:
    """An event's day and time on the clock its times are given in (the calendar view's:
    the user's), as the CLI and MCP show it (almanac.clock.clock_span, repeated here: this
    file imports nothing from almanac): "2026-12-07 09:00-Wed 09 Dec 17:00" for an event
    lasting until Wednesday, "2026-12-08 all day". The ISO text sliced read "09:00-17:00"
    for three days, and "00:00-00:00" for a day off."""
    try:
        first, last = datetime.fromisoformat(str(start)), datetime.fromisoformat(str(end))
    except ValueError:
        return f"{str(start)[:16].replace('T', ' ')}-{str(end)[11:16]}"
    day = f"{first:%Y-%m-%d}"
    if all_day:
        # All day ends at the midnight after its last day.
        through = (last - timedelta(microseconds=1)).date()
        return f"{day} all day" + ("" if through <= first.date() else f", to {_on(through, first)}")
    if last.second or last.microsecond:  # an end at 01:14:59.9 is the quarter's, 01:15
        last = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    midnight = last.hour == last.minute == 0  # the day's end, not the next day's
    same_day = last.date() == first.date() or (
        midnight and last.date() == first.date() + timedelta(1)
    )
    if same_day:
        return f"{day} {first:%H:%M}-{last:%H:%M}"
    return f"{day} {first:%H:%M}-{_on(last, first)} {last:%H:%M}"


def _on(when: datetime | date, start: datetime) -> str:
    """A later day, with its year when it is not the start's (as almanac.clock does)."""
    return f"{when:%a %d %b}" + (f" {when.year}" if when.year != start.year else "")


def _kind(event: dict[str, Any]) -> str:
    """Almanac's block, busy time, or free time (a declined invitation, an event marked
    free): free time read "[busy]", and the chat told the user they were busy then."""
    if event.get("almanac"):
        return f"[block {event.get('id')}]"
    return "[busy]" if event.get("busy", True) else "[free]"


def _on_clock(value: Any, zone: ZoneInfo | None) -> Any:
    """An instant as ISO text on `zone`'s clock (as given when unreadable or no zone)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return value
    return at.astimezone(zone).isoformat() if zone is not None and at.tzinfo else value


def _zone(name: Any) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ZoneInfoNotFoundError, ValueError):  # unknown here (no tzdata?): UTC, said so
        return None


def _bad(name: str, what: str) -> AlmanacUnavailable:
    return AlmanacUnavailable(f"Almanac could not do that: {name} must be {what}.")


def _whole(value: Any, name: str, low: int = 1, high: int = ID_MAX) -> int:
    """An integer argument (also "3" or 3.0) within [low, high]."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().removeprefix("-").isdigit():
        try:
            value = int(value.strip())
        except ValueError:  # more digits than int() reads (4300): no id is that long
            raise _bad(name, f"a whole number from {low} to {high}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(name, f"a whole number from {low} to {high}")
    return value


def _count(value: Any, name: str, low: int, high: int) -> int:
    """A whole-number argument clamped to [low, high] (a model asking for 100 results gets
    the most there are); one that is no number is refused naming that range, not the
    integer limits it was parsed within."""
    try:
        return max(low, min(_whole(value, name, -ID_MAX), high))
    except AlmanacUnavailable:
        raise _bad(name, f"a whole number ({low} to {high})") from None


def _fraction(value: Any, name: str) -> float:
    """A number from 0 to 1 (also "0.8"). Checked here so the message names the tool's
    argument: the API's named `salience_score`, a field the model never saw."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, "a number from 0 to 1")
    if not math.isfinite(value) or not 0 <= value <= 1:  # NaN cannot be sent as JSON
        raise _bad(name, "a number from 0 to 1")
    return float(value)


_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _flag(value: Any, name: str) -> bool:
    """A yes/no argument: true/false, also "false", "no" or 0 (a model sends any of them;
    the string "false" was true, and apply="false" wrote the schedule)."""
    if isinstance(value, bool):
        return value
    if value is None:  # a model's null for an omitted argument: the default, no write
        return False
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    raise _bad(name, "true or false")


def _day(value: Any, name: str) -> str | None:
    """An optional date argument as YYYY-MM-DD."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and len(value) <= 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise _bad(name, "a date as YYYY-MM-DD")


def _hit_label(hit: dict[str, Any]) -> str:
    """A document passage by its document's id too: its own id is no document's."""
    document = (hit.get("metadata") or {}).get("document_id")
    if hit.get("kind") == "document" and isinstance(document, int):
        return f"#{hit['id']} passage of document {document}"
    return f"#{hit['id']} {hit['kind']}"


def _reply_key(
    user: dict[str, Any] | None, metadata: dict[str, Any] | None, body: dict[str, Any]
) -> str | None:
    """One reply's idempotency key for a write: the same call again in the same reply (a
    model retrying after a timeout) is stored once; None outside a reply Open WebUI names."""
    message = (metadata or {}).get("message_id")
    if not isinstance(message, str) or not message:
        return None
    who = (user or {}).get("id")
    said = _json.dumps([str(who), message, body], sort_keys=True, default=str)
    return "openwebui-" + hashlib.sha256(said.encode()).hexdigest()


def _instant(value: Any, name: str) -> str | None:
    """An optional moment as ISO 8601 with a UTC offset (without one, which instant is
    meant depends on a zone nobody named)."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and len(value) <= 40:
            when = datetime.fromisoformat(value)
            if when.tzinfo is not None:
                return when.isoformat()
    except ValueError:
        pass
    raise _bad(name, "a time as ISO 8601 with an offset, e.g. 2026-11-10T17:00:00+01:00")


# What an HTTP header can carry: a key with a line break or an accented letter (a paste
# gone wrong) failed inside httpx with a traceback instead of a message.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _shown(url: str) -> str:
    """`url` for a message: without a user or password it may carry."""
    try:
        parts = urlsplit(url)
        if parts.username or parts.password:
            return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:
        pass
    return url


def _key_headers(key: str, url: str) -> dict[str, str]:
    """`Authorization: Bearer KEY`, or `X-API-Key: KEY` when the URL holds a login (a
    proxy's): httpx sends that as `Authorization: Basic`, which would replace the key."""
    if not key:
        return {}
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return {"X-API-Key": key}
    return {"Authorization": f"Bearer {key}"}


def _checked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlmanacUnavailable(
            f"The 'almanac_url' valve ({_shown(url)!r}) is not an http(s) URL, e.g. "
            "http://localhost:8090."
        )
    return url


# Almanac's relevance floor (memory/relevance.py): under it a hit is the nearest memory,
# not an answer. This file runs inside Open WebUI and imports nothing of Almanac.
RELEVANCE_FLOOR = 0.5


def _relevance(value: Any) -> str:
    """How relevant a recalled hit is, and whether it is under the floor."""
    if not isinstance(value, int | float):
        return ""
    near = "" if value >= RELEVANCE_FLOOR else ", under the floor: near, not a match"
    return f"(relevance {value:.2f}{near})"


class Tools:
    class Valves(BaseModel):
        almanac_url: str = Field(
            default="http://localhost:8090",
            description="Where Almanac runs (from Docker: http://host.docker.internal:8090)",
        )
        api_key: str = Field(default="", description="An Almanac API key (read, write or admin)")
        timeout_seconds: float = Field(default=60.0, description="Per-call timeout")

    class UserValves(BaseModel):
        api_key: str = Field(
            default="", description="Your own Almanac API key (overrides the shared one)"
        )
        client_id: int | None = Field(
            default=None, description="Default client for plans, memories and recall"
        )

    def __init__(self) -> None:
        self.valves = self.Valves()
        self.citation = False
        # One connection pool per URL and event loop: Open WebUI keeps this object between
        # calls, and a new client per call costs more than the call (TLS context, no reuse).
        self._http: tuple[tuple[str, float, int], httpx.AsyncClient] | None = None
        # The user's zone (the server's, as the dashboard shows it) for the one URL asked.
        self._zone: tuple[str, ZoneInfo | None] | None = None

    def _http_client(self, url: str) -> httpx.AsyncClient:
        key = (url, self.valves.timeout_seconds, id(asyncio.get_running_loop()))
        if self._http is None or self._http[0] != key or self._http[1].is_closed:
            client = httpx.AsyncClient(base_url=url, timeout=self.valves.timeout_seconds)
            self._http = (key, client)
        return self._http[1]

    # -- plumbing --------------------------------------------------------------------------

    def _user_valves(self, user: dict[str, Any] | None) -> Any:
        valves = user.get("valves") if isinstance(user, dict) else None
        if isinstance(valves, dict):
            try:
                return self.UserValves(**valves)
            except ValidationError as exc:
                wrong = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
                raise AlmanacUnavailable(
                    f"Almanac could not read your user valves ({wrong}): fix them in the "
                    "tool's settings."
                ) from exc
        if valves is None:
            return self.UserValves()
        if not all(hasattr(valves, name) for name in self.UserValves.model_fields):
            raise AlmanacUnavailable("Almanac could not read your user valves.")
        return valves

    async def _call(
        self,
        method: str,
        path: str,
        user: dict[str, Any] | None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        named: dict[str, str] | None = None,
    ) -> Any:
        key = (self._user_valves(user).api_key or self.valves.api_key).strip()
        if key and not _HEADER_SAFE.fullmatch(key):
            raise AlmanacUnavailable(
                "Almanac rejected the API key: it holds spaces, line breaks or non-ASCII "
                "characters, which no key has. Set a valid key in the tool's valves."
            )
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = _checked_url(self.valves.almanac_url.rstrip("/"))
        headers = _key_headers(key, url)
        if json is not None:
            try:  # httpx raises a bare ValueError for NaN or infinity in the body
                _json.dumps(json, allow_nan=False)
            except ValueError:
                raise AlmanacUnavailable(
                    "Almanac could not do that: an argument is NaN or infinity, not a number "
                    "or text it can use."
                ) from None
        try:
            response = await self._http_client(url).request(
                method, path, params=query, json=json, headers=headers
            )
        except httpx.ReadTimeout as exc:
            # Sent, and not answered: unlike a refused connection, a write may have been made.
            sent = (
                " What was sent may have been stored: check before sending it again."
                if method != "GET"
                else ""
            )
            raise AlmanacUnavailable(
                f"Almanac did not answer in time ({self.valves.timeout_seconds:g} s).{sent}"
            ) from exc
        except httpx.HTTPError as exc:
            raise AlmanacUnavailable(
                f"Almanac is not reachable at {_shown(url)} ({type(exc).__name__}). Check "
                "the 'almanac_url' valve and that `almanac serve` is running."
            ) from exc
        except httpx.InvalidURL as exc:  # no HTTPError: an argument too long for a URL
            raise AlmanacUnavailable(
                f"Almanac could not do that: an argument cannot go in a URL ({exc})."
            ) from exc
        except UnicodeEncodeError as exc:  # a lone surrogate in a text argument
            raise AlmanacUnavailable(
                "Almanac could not do that: a text argument holds invalid Unicode."
            ) from exc
        if response.status_code >= 400:
            raise AlmanacUnavailable(_problem(response, named))
        return response.json() if response.content else None

    async def _user_zone(self, user: dict[str, Any] | None) -> ZoneInfo | None:
        """The zone the dashboard shows times in, from GET /api/v1/auth/me: asked once per
        URL while it answers; None (times in UTC, said so) when it cannot be read."""
        url = self.valves.almanac_url
        if self._zone is None or self._zone[0] != url:
            try:
                me = await self._call("GET", "/api/v1/auth/me", user)
            except AlmanacUnavailable:
                return None
            self._zone = (url, _zone(me.get("timezone") if isinstance(me, dict) else None))
        return self._zone[1]

    async def _status(self, emitter: Emitter, text: str, done: bool = False) -> None:
        if emitter is not None:
            await emitter({"type": "status", "data": {"description": text, "done": done}})

    def _client(self, user: dict[str, Any] | None, client_id: int | None) -> int | None:
        # Checked here: NaN cannot be sent as JSON at all, and "3" or 3.0 mean client 3.
        if client_id is not None:
            return _whole(client_id, "client_id", 1, CLIENT_ID_MAX)
        chosen = self._user_valves(user).client_id
        if chosen is None:
            return None
        try:
            return _whole(chosen, "client_id", 1, CLIENT_ID_MAX)
        except AlmanacUnavailable:
            # The setting, not the call: "client_id must be..." sent the model to mend an
            # argument it never gave.
            raise AlmanacUnavailable(
                "Almanac could not do that: your client_id setting (User Valves) must be a "
                f"whole number from 1 to {CLIENT_ID_MAX}; change or clear it."
            ) from None

    async def _run(self, emitter: Emitter, label: str, work: Callable[[], Awaitable[str]]) -> str:
        await self._status(emitter, label)
        try:
            text = await work()
        except AlmanacUnavailable as exc:
            await self._status(emitter, "Almanac: failed", done=True)
            return str(exc)
        except Exception as exc:  # the last resort: a message for the chat, no traceback
            await self._status(emitter, "Almanac: failed", done=True)
            return f"Almanac: this tool failed unexpectedly ({type(exc).__name__})."
        await self._status(emitter, f"{label.rstrip('…')}: done", done=True)
        return _visible(text)

    # -- tools -----------------------------------------------------------------------------

    async def create_plan(
        self,
        intent: str,
        deadline: str | None = None,
        client_id: int | None = None,
        estimates: Literal["calibrated", "library"] | None = None,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Turn an intent into a draft plan of tasks with estimates (approve it with approve_plan).
        :param intent: What to get done, e.g. "marketing audit for Acme".
        :param deadline: Optional deadline, ISO 8601 with offset (2026-12-18T17:00:00+01:00).
        :param client_id: Optional client id the plan is for.
        :param estimates: Optional: "calibrated" (learnt from past runs, the default) or "library".
        """

        async def work() -> str:
            body = {
                "intent": intent,
                "deadline": deadline,
                "client_id": self._client(__user__, client_id),
            }
            if estimates is not None:  # else the server's setting (and older servers work)
                body["estimates"] = estimates
            plan = await self._call("POST", "/api/v1/planner/plan", __user__, json=body)
            library = plan.get("estimates_mode") == "library"
            asked = "; library estimates, as asked" if library else ""
            lines = [
                f"Draft plan #{plan['id']}: {plan['plan_title']} ({plan['total_hours']:g} h, "
                f"from the {plan.get('source') or 'library'}; LLM used: "
                f"{'yes' if (plan.get('llm') or {}).get('used') else 'no'}{asked})"
            ]
            for step in (plan.get("sop") or {"steps": []})["steps"]:
                for t in step["tasks"]:
                    hours = f"{t['estimate_hours']:g} h"
                    lines.append(f"- {t['id']}: {_clip(t['title'], 90)} ({hours})")
            lines.append(f"Approve with approve_plan(plan_id={plan['id']}).")
            return "\n".join(lines)

        return await self._run(__event_emitter__, "Planning…", work)

    async def approve_plan(
        self,
        plan_id: int,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Approve a draft plan so its tasks exist and can be scheduled.
        :param plan_id: The plan's id (from create_plan).
        """

        async def work() -> str:
            plan = _whole(plan_id, "plan_id")
            out = await self._call("POST", f"/api/v1/planner/plans/{plan}/approve", __user__)
            ids = ", ".join(f"#{i}" for i in out["task_ids"])
            return f"Plan #{plan} approved; tasks {ids}. Schedule with schedule_tasks."

        return await self._run(__event_emitter__, "Approving…", work)

    async def schedule_tasks(
        self,
        plan_id: int,
        apply: bool = False,
        run_id: int | None = None,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Place an approved plan's tasks in the calendar: first a preview, then call again
        with apply=true to write it.
        :param plan_id: The approved plan's id.
        :param apply: False shows a preview; True writes the blocks to the calendar.
        :param run_id: With apply=true, the preview's run id: exactly that schedule is written.
        """

        async def work() -> str:
            plan, write = _whole(plan_id, "plan_id"), _flag(apply, "apply")
            run = None if run_id is None else _whole(run_id, "run_id")
            body: dict[str, Any] = {"plan_id": plan, "dry_run": not write}
            path = "/api/v1/scheduler/schedule"
            try:
                extra = {"run_id": run} if write and run else {}
                out = await self._call("POST", path, __user__, json={**body, **extra})
            except AlmanacUnavailable as exc:
                # Only an Almanac that does not know run_id solves again; a run_id it
                # refuses must not become a fresh schedule written without a preview.
                if "run_id: Extra inputs are not permitted" not in str(exc):
                    raise
                out = await self._call("POST", path, __user__, json=body)  # an older Almanac
            head = "Scheduled" if out["applied"] else "Preview"
            if out.get("replayed"):  # written before, by the first call: nothing now
                head = "Already scheduled, nothing written now"
            lines = [f"{head} (run #{out['run_id']}): {len(out['blocks'])} blocks"]
            if out.get("replayed"):  # moved or freed since, they read as the calendar now
                lines.append("These are the blocks as that run wrote them; the agenda shows now.")
            for b in out["blocks"][:20]:
                lines.append(f"- {_span(b['start'], b['end'])} {_clip(b['title'], 70)}")
            lines += _elsewhere(out)
            lines += [f"- not placed: {u['title']} ({u['cause']})" for u in out["unplaced"]]
            if not out["applied"]:
                lines.append(
                    f"Call schedule_tasks(plan_id={plan}, apply=true, run_id={out['run_id']}) "
                    "to write it."
                )
            return "\n".join(lines)

        return await self._run(__event_emitter__, "Scheduling…", work)

    async def query_memory(
        self,
        query: str,
        client_id: int | None = None,
        limit: int = 8,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Search what Almanac remembers (memories, facts and documents).
        :param query: What to look for.
        :param client_id: Optional client id to search only that client's memories.
        :param limit: How many results (1-50).
        """

        async def work() -> str:
            if not isinstance(query, str) or len(query) > QUERY_MAX:
                raise _bad("query", f"text of at most {QUERY_MAX} characters")
            params = {
                "query": query,
                "k": _count(limit, "limit", 1, 50),
                "client_id": self._client(__user__, client_id),
            }
            out = await self._call("GET", "/api/v1/memory/recall", __user__, params=params)
            zone = await self._user_zone(__user__) if out["results"] else None
            lines = [
                "- "
                + " ".join(
                    part
                    for part in (
                        _hit_label(h),
                        _when(h.get("occurred_at"), zone),
                        _relevance(h.get("relevance")),
                        _clip(h["content"]),
                    )
                    if part
                )
                for h in out["results"]
            ]
            return "\n".join(lines) or "Nothing found."

        return await self._run(__event_emitter__, "Searching memory…", work)

    async def remember(
        self,
        content: str,
        client_id: int | None = None,
        importance: float = 0.5,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
        __metadata__: dict[str, Any] | None = None,
    ) -> str:
        """
        Store something worth remembering (a preference, a decision, a note).
        :param content: What to remember, in one or two sentences.
        :param client_id: Optional client id it is about.
        :param importance: 0 to 1; 0.7 or more marks it as important.
        """

        async def work() -> str:
            body = {
                "content": content,
                "client_id": self._client(__user__, client_id),
                "salience_score": _fraction(importance, "importance"),
                "event_source": "openwebui",
            }
            body["idempotency_key"] = _reply_key(__user__, __metadata__, body)
            out = await self._call("POST", "/api/v1/memory/remember", __user__, json=body)
            return f"Remembered (#{out['id']})."

        return await self._run(__event_emitter__, "Remembering…", work)

    async def agenda(
        self,
        days: int = 1,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Show the agenda: Almanac's work blocks and other busy time, today or the next days.
        :param days: How many days from today (1-14).
        """

        async def work() -> str:
            first = await self._call("GET", "/api/v1/scheduler/calendar", __user__)
            today = date.fromisoformat(first["start"][:10])
            params = {
                "start_date": today.isoformat(),
                "end_date": (today + timedelta(days=_count(days, "days", 1, 14) - 1)).isoformat(),
            }
            out = await self._call("GET", "/api/v1/scheduler/calendar", __user__, params=params)
            zone = await self._user_zone(__user__) if out["events"] else None
            lines = [
                f"- {_span(*(_on_clock(e[k], zone) for k in ('start', 'end')), e.get('all_day'))}"
                f" {_kind(e)} {_clip(e['title'], 70)}"
                for e in out["events"]
            ]
            if not lines:
                return "Nothing scheduled."
            # Which clock: "09:00" alone was read on the reader's, hours off a traveller's.
            where = (
                f"Times in {zone.key}" if zone is not None else "Times as the calendar gives them"
            )
            return "\n".join([f"{where}:", *lines])

        return await self._run(__event_emitter__, "Reading the agenda…", work)

    async def complete_task(
        self,
        task_id: int,
        finished_at: str | None = None,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Mark a task as done.
        :param task_id: The task's id (from approve_plan or the agenda).
        :param finished_at: When it was done, if not now: ISO 8601 with an offset.
        """

        async def work() -> str:
            body: dict[str, Any] = {"status": "done"}
            when = _instant(finished_at, "finished_at")
            if when is not None:
                body["finished_at"] = when
            out = await self._call(
                "PATCH",
                f"/api/v1/planner/tasks/{_whole(task_id, 'task_id')}",
                __user__,
                json=body,
            )
            task = out.get("task", out)
            return f"Task #{task['id']} done: {_clip(task['title'], 90)}."

        return await self._run(__event_emitter__, "Completing the task…", work)

    async def reflect_daily(
        self,
        day: str | None = None,
        __user__: dict[str, Any] | None = None,
        __event_emitter__: Emitter = None,
    ) -> str:
        """
        Reflect on a day: what got done, estimates versus reality, recommendations.
        :param day: Optional date (YYYY-MM-DD); default today.
        """

        async def work() -> str:
            out = await self._call(
                "POST",
                "/api/v1/observer/reflect",
                __user__,
                params={"mode": "daily", "date": _day(day, "day")},
                named={"date": "day"},
            )
            n = out["report"].get("numbers", {})
            lines = [
                f"Reflection #{out['id']} for {out['period_start']}: "
                f"{n.get('tasks_planned', 0)} task{'' if n.get('tasks_planned') == 1 else 's'}"
                f" planned, {n.get('tasks_done', 0)} done, "
                f"{n.get('hours_actual', 0):g} h actual vs {n.get('hours_estimated', 0):g} h "
                "estimated for the tasks planned."
            ]
            lines += [f"- {_clip(r, 200)}" for r in out["report"].get("recommendations", [])[:5]]
            if out.get("narrative"):
                lines.append(_clip(out["narrative"], 600))
            return "\n".join(lines)

        return await self._run(__event_emitter__, "Reflecting…", work)
