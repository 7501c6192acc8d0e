"""`almanac remember`, `almanac recall`, `almanac facts …`: memory from the terminal.

These talk to the API through `connect` (standard library HTTP) and print with a small
table writer, so against a running server they import neither pydantic nor SQLAlchemy
(except `remember` of a plain memory, which loads the scheduler's preference rules to say
when the text reads as a scheduling preference).
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Annotated, Any

import typer

from almanac.cli.api import call, given
from almanac.cli.connect import fail
from almanac.cli.output import emit, local_minute, table

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Server URL (default: the server running on this data folder)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")]
MEMORY = "/api/v1/memory"
# memory.relevance.FLOOR, not imported: that module reads the settings, which this fast
# command does not load (tests/cli/test_memory_cli.py holds the two equal).
RELEVANCE_FLOOR = 0.5


def _json_object(value: str | None, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = json.loads(value)
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise fail(f"{field}: not valid JSON ({exc})", 2) from exc
    if not isinstance(data, dict):
        raise fail(f"{field}: must be a JSON object", 2)
    return data


# The API's field → the command's option, for errors naming what the user typed.
_FACT = {
    "salience_score": "--salience",
    "valid_from": "--valid-from",
    "subject_type": "--subject-type",
    "subject_id": "--subject-id",
    "fact_type": "--type",
    "category": "--category",
    "client_id": "--client",
    "metadata": "--metadata",
}
_REMEMBER = {
    "salience_score": "--salience",
    "session_id": "--session",
    "client_id": "--client",
    "event_type": "--type",
    "memory_scope": "--scope",
    "metadata": "--metadata",
    "idempotency_key": "--key",
}

# (`k` and `limit` keep their names: a word of a reason would be renamed with them.)
_RECALL = {
    "session_id": "--session",
    "client_id": "--client",
    "since": "--since",
    "until": "--until",
}
_WINDOW = (
    "Only memories that occurred {} this time: ISO 8601, a date (its whole day) or a date "
    "and time; without an offset it is read in ALMANAC_TIMEZONE"
)
_LIST = {
    "subject_type": "--subject-type",
    "subject_id": "--subject-id",
    "fact_type": "--type",
    "as_of": "--as-of",
    "include_history": "--history",
}
# facts supersede has three options: the others' names are not its to give.
_SUPERSEDE = {k: v for k, v in _FACT.items() if k in ("salience_score", "valid_from")}
_SUPERSEDE["fact_id"] = "FACT_ID"  # as `calendar rm` says EVENT_ID: the argument's name


def remember(
    content: Annotated[str, typer.Argument(help="What to remember")],
    session_id: Annotated[str | None, typer.Option("--session")] = None,
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    event_type: Annotated[str, typer.Option("--type")] = "memory",
    scope: Annotated[
        str, typer.Option("--scope", help="run, session, user, project or global")
    ] = "session",
    salience: Annotated[float, typer.Option("--salience")] = 0.5,
    metadata: Annotated[str | None, typer.Option(help="JSON object")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Store a memory."""
    body = given(
        content=content,
        session_id=session_id,
        client_id=client_id,
        event_type=event_type,
        memory_scope=scope,
        salience_score=salience,
        metadata=_json_object(metadata, "metadata"),
        idempotency_key=key,
    )
    out = call("POST", f"{MEMORY}/remember", body=body, url=url, service="memory", names=_REMEMBER)
    hint = None if out["promoted_to_fact_id"] else preference_hint(content, client_id)
    if as_json:
        if hint:
            print(hint, file=sys.stderr)  # stdout stays one JSON document
        return emit(out)
    extra = " (duplicate)" if out["duplicate"] else ""
    fact = f", promoted to fact {out['promoted_to_fact_id']}" if out["promoted_to_fact_id"] else ""
    print(f"remembered event {out['id']} in {', '.join(out['stored_in'])}{fact}{extra}")
    if hint:
        print(hint)


def preference_hint(content: str, client_id: int | None) -> str | None:
    """A note when a plain memory reads as a scheduling preference: the scheduler reads only
    preference facts, and `remember` stores what it is given, so say how to apply it."""
    from almanac.scheduler.preferences import reads_as_preference

    understood = reads_as_preference(content)
    if not understood:
        return None
    what = "; ".join(understood)
    client = f" --client {client_id}" if client_id is not None else ""
    return (
        f"note: this looks like a scheduling preference ({what}); it was stored as a plain "
        "memory, which the scheduler does not read. To apply it: "
        f"almanac facts add {shlex.quote(content)} --type preference{client}"
    )


def recall(
    query: Annotated[str, typer.Argument(help="What to look for")],
    k: Annotated[int, typer.Option("-k", help="How many results")] = 10,
    session_id: Annotated[str | None, typer.Option("--session")] = None,
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    since: Annotated[str | None, typer.Option("--since", help=_WINDOW.format("from"))] = None,
    until: Annotated[str | None, typer.Option("--until", help=_WINDOW.format("through"))] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Search memories, facts and documents; prints them ranked, best first.

    With --since or --until, memories only (as the API reads a window without kinds).
    """
    params: dict[str, Any] = {
        "query": query,
        "k": k,
        "session_id": session_id,
        "client_id": client_id,
    }
    zone, zone_used = "", False
    if since is not None or until is not None:
        from almanac.cli.when import window_bound, zone_name

        zone = _zone(zone_name())
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                params[name], used = window_bound(value, zone, f"--{name}", end=name == "until")
                zone_used = zone_used or used
    out = call("GET", f"{MEMORY}/recall", params=params, url=url, service="memory", names=_RECALL)
    note = f"times without an offset were read in {zone} (ALMANAC_TIMEZONE)" if zone_used else ""
    if as_json:
        if note:
            print(f"note: {note}", file=sys.stderr)  # stdout stays one JSON document
        return emit(out)
    rows = []
    for rank, hit in enumerate(out["results"], start=1):
        when = local_minute(hit.get("occurred_at"))
        # The relevance compares across queries; the fused score only ranks this answer.
        rel = "" if hit.get("relevance") is None else f"{hit['relevance']:.2f}"
        rows.append([str(rank), _label(hit), rel, when, hit["content"]])
    cached = ", cached" if out["cached"] else ""
    title = f"recall: {query!r} ({out['took_ms']:.1f} ms{cached})"
    table(title, ["rank", "id", "relevance", "when", "content"], rows)
    under = sum(1 for h in out["results"] if (h.get("relevance") or 0.0) < RELEVANCE_FLOOR)
    if under and not out.get("no_match"):
        print(
            f"{under} of {len(out['results'])} under the relevance floor "
            f"({RELEVANCE_FLOOR:g}): near the query, not about it"
        )
    if note:
        print(note)
    detail = out.get("detail") or ""
    if out.get("no_match") and ("nothing was searched" in detail or "nothing is stored" in detail):
        print(f"no match: {detail}")  # no word in the query, or nothing in the window
    elif out.get("no_match"):  # say why the table is empty: the floor, not an empty store
        print(
            "no match: no hit reached the relevance floor "
            "(ALMANAC_SEARCH__RELEVANCE_FLOOR=false lists the nearest anyway)"
        )


def _label(hit: dict[str, Any]) -> str:
    """A hit by the id its own commands take: a document passage by its document's (`docs
    rm` takes it; the passage's own id named another document there)."""
    document = (hit.get("metadata") or {}).get("document_id")
    if hit["kind"] == "document" and isinstance(document, int):
        return f"document {document}"
    return f"{hit['kind']} {hit['id']}"


_VALID_FROM = (
    "When it became true: ISO 8601, a date (its midnight) or a date and time; without an "
    "offset it is read in ALMANAC_TIMEZONE"
)


def _local(value: str | None) -> str | None:
    """A time without an offset read in ALMANAC_TIMEZONE, as `calendar add` and `plan
    --deadline` read one (`--valid-from 2026-12-10` was refused: no UTC offset)."""
    if value is None:
        return None
    from almanac.cli.when import local_time, zone_name

    return local_time(value, _zone(zone_name()), "--valid-from")[0]


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError):  # zoneinfo raises a KeyError subclass for unknown zones
        raise fail(f"ALMANAC_TIMEZONE: {name!r} is no time zone (e.g. Europe/Berlin)", 2) from None
    return name


facts_app = typer.Typer(
    help="Durable facts: list (current, as of a time, or with history), add, supersede.",
    invoke_without_command=True,
)


def _open_end(fact: dict[str, Any]) -> str:
    """An open fact is current, or not yet: a successor dated later takes over then."""
    return "current" if fact.get("current", True) else "not yet"


def _fact_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            str(f["id"]),
            f"{f['subject_type']}:{f['subject_id']}",
            f["fact_type"],
            f.get("category") or "",
            "" if f.get("client_id") is None else str(f["client_id"]),
            local_minute(f["valid_from"]),
            local_minute(f["valid_to"]) if f.get("valid_to") else _open_end(f),
            f["content"],
        ]
        for f in rows
    ]


# "client": a slot is also whose the fact is, so one slot may hold a current fact of the
# user's own and one of a client's; without the column they read as a slot with two.
FACT_COLUMNS = ["id", "subject", "type", "category", "client", "valid from", "valid to", "content"]


@facts_app.callback()
def facts(
    ctx: typer.Context,
    subject_type: Annotated[str | None, typer.Option("--subject-type")] = None,
    subject_id: Annotated[str | None, typer.Option("--subject-id")] = None,
    fact_type: Annotated[str | None, typer.Option("--type")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 with offset")] = None,
    history: Annotated[bool, typer.Option("--history", help="Every version")] = False,
    limit: Annotated[int, typer.Option(help="At most this many")] = 100,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """List facts (current, as of a time, or with their history)."""
    if ctx.invoked_subcommand is not None:
        return
    params = {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "fact_type": fact_type,
        "as_of": as_of,
        "include_history": "true" if history else None,
        "limit": limit,
    }
    rows = call("GET", f"{MEMORY}/facts", params=params, url=url, service="memory", names=_LIST)
    if as_json:
        return emit(rows)
    table("facts", FACT_COLUMNS, _fact_rows(rows))


def _print_write(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        return emit(out)
    fact = out["fact"]
    line = f"fact {fact['id']} ({fact['subject_type']}:{fact['subject_id']}, {fact['fact_type']})"
    if out.get("duplicate"):
        line += " already present"
    elif out.get("superseded_id"):
        line += f" supersedes fact {out['superseded_id']}"
    print(line)


@facts_app.command("add")
def facts_add(
    content: Annotated[str, typer.Argument(help="The fact, in a sentence")],
    subject_type: Annotated[str, typer.Option("--subject-type")] = "user",
    subject_id: Annotated[str, typer.Option("--subject-id")] = "me",
    fact_type: Annotated[str, typer.Option("--type")] = "preference",
    category: Annotated[
        str | None,
        typer.Option(help="The slot it fills (e.g. invoicing): a later fact replaces it"),
    ] = None,
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    salience: Annotated[float, typer.Option("--salience")] = 0.5,
    valid_from: Annotated[str | None, typer.Option("--valid-from", help=_VALID_FROM)] = None,
    metadata: Annotated[str | None, typer.Option(help="JSON object")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Add a fact; with --category it supersedes the current fact in that slot (subject,
    type, category, client), without one it stands beside the others."""
    body = given(
        content=content,
        subject_type=subject_type,
        subject_id=subject_id,
        fact_type=fact_type,
        category=category,
        client_id=client_id,
        salience_score=salience,
        valid_from=_local(valid_from),
        metadata=_json_object(metadata, "metadata"),
    )
    out = call("POST", f"{MEMORY}/facts", body=body, url=url, service="memory", names=_FACT)
    _print_write(out, as_json)


@facts_app.command("supersede")
def facts_supersede(
    fact_id: Annotated[int, typer.Argument(help="The fact to close")],
    content: Annotated[str, typer.Argument(help="What is true from now on")],
    valid_from: Annotated[str | None, typer.Option("--valid-from", help=_VALID_FROM)] = None,
    salience: Annotated[float | None, typer.Option("--salience")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Close a fact and open its successor (unspecified fields carry over)."""
    body = given(content=content, valid_from=_local(valid_from), salience_score=salience)
    path = f"{MEMORY}/facts/{fact_id}/supersede"
    out = call("POST", path, body=body, url=url, service="memory", names=_SUPERSEDE)
    _print_write(out, as_json)


@facts_app.command("history")
def facts_history(
    subject_type: Annotated[str, typer.Option("--subject-type")] = "user",
    subject_id: Annotated[str, typer.Option("--subject-id")] = "me",
    fact_type: Annotated[str | None, typer.Option("--type")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Every version of a subject's facts, oldest first."""
    params = {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "fact_type": fact_type,
        "include_history": "true",
        "limit": 1000,
    }
    rows = call("GET", f"{MEMORY}/facts", params=params, url=url, service="memory", names=_LIST)
    rows.sort(key=lambda f: (f["valid_from"], f["id"]))
    if as_json:
        return emit(rows)
    table(f"history of {subject_type}:{subject_id}", FACT_COLUMNS, _fact_rows(rows))
