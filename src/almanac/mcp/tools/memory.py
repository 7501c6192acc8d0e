"""Memory tools: remember, recall, get_facts, add_fact, forget_subject, context."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from almanac.mcp.api import (
    Api,
    ClientRef,
    Content,
    Name,
    QueryText,
    ShortText,
    clip,
    result,
    segment,
)
from almanac.memory.relevance import FLOOR
from almanac.memory.schemas import SUBJECT_TYPE_CHARS
from almanac.types import AwareDatetime, ForClient

ClientId = Annotated[ClientRef | None, Field(description="Only this client's data")]
# On a write: whose it is (a reader's "only this client's data" said nothing there).
OwnerClient = Annotated[
    ClientRef | None, Field(description="The client it belongs to (none: your own)")
]
FactType = Literal["preference", "constraint", "identity", "pattern", "result"]
Kind = Literal["event", "fact", "document"]
Resolver = Callable[[Context], Api]  # type: ignore[type-arg]


def _when(value: str | None, zone: ZoneInfo | None) -> str:
    """The instant on the user's wall clock, naming the zone (UTC, said so, when the zone is
    unknown): its date alone was UTC's, a day off the user's for an evening's memory west
    of Greenwich (or a night's east of it)."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value[:10]
    if at.tzinfo is None:
        return value[:10]
    if zone is None:
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def hits_text(
    hits: list[dict[str, Any]], zone: ZoneInfo | None = None, *, relevance: bool = False
) -> str:
    """One line per hit; with `relevance` (an answer to a query), each says how relevant
    it is and whether it is under the floor: the nearest memory, not a match."""
    lines = [
        " ".join(
            part
            for part in (
                _label(h),
                _when(h.get("occurred_at"), zone),
                _relevance(h) if relevance else "",
                clip(h["content"]),
            )
            if part
        )
        for h in hits
    ]
    return "\n".join(lines) if lines else "nothing found"


def _label(hit: dict[str, Any]) -> str:
    """A document passage by its document's id too: its own id is no document's."""
    document = (hit.get("metadata") or {}).get("document_id")
    if hit["kind"] == "document" and isinstance(document, int):
        return f"#{hit['id']} passage of document {document}"
    return f"#{hit['id']} {hit['kind']}"


def _relevance(hit: dict[str, Any]) -> str:
    value = hit.get("relevance")
    if value is None:
        return ""
    near = "" if value >= FLOOR else ", under the floor: near, not a match"
    return f"(relevance {value:.2f}{near})"


def fact_line(f: dict[str, Any]) -> str:
    slot = f"{f['subject_type']}:{f['subject_id']} {f['fact_type']}"
    if f.get("category"):
        slot += f"/{f['category']}"
    state = "" if f.get("current", True) else " (superseded)"
    return f"fact #{f['id']} [{slot}] {clip(f['content'])}{state}"


# What else a forget deletes, as the user knows it (`ForgetOut.deleted`'s stores).
_ALSO = (
    ("plans", "plans (with their tasks)"),
    ("calendar_entries", "calendar blocks"),
    ("caldav_events", "CalDAV events"),
    ("google_events", "Google Calendar events"),
)


def forgot_text(subject_type: str, subject_id: str, out: dict[str, Any]) -> str:
    """What a forget deleted: memories and facts said only "2 facts" when a client's plans,
    tasks and calendar blocks went too, and a calendar not reached went unsaid."""
    deleted = out.get("deleted") or {}
    parts = [f"{out['events_deleted']} memories", f"{out['facts_deleted']} facts"]
    if out.get("documents_deleted"):
        parts.append(f"{out['documents_deleted']} documents")
    parts += [f"{deleted[key]} {what}" for key, what in _ALSO if deleted.get(key)]
    lines = [f"forgot {subject_type}:{subject_id}: {', '.join(parts)}"]
    lines += [
        f"not yet deleted from {store}: {clip(why, 300)}"
        for store, why in (out.get("pending") or {}).items()
    ]
    if out.get("zep") == "queued":
        lines.append(
            f"Zep: deletion queued ({clip(out.get('zep_detail') or 'Zep did not answer', 200)})"
        )
    return "\n".join(lines)


def register(server: FastMCP, resolve: Resolver) -> None:
    read = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

    @server.tool(
        description="Store a memory (an event, preference or note). Salience ≥ 0.7 with "
        "metadata naming a subject (subject_type, subject_id, fact_type, category) also "
        "makes it a durable fact. Returns the memory id."
    )
    async def remember(
        ctx: Context,  # type: ignore[type-arg]
        content: Annotated[Content, Field(description="What to remember")],
        client_id: OwnerClient = None,
        session_id: Annotated[ShortText | None, Field(description="Conversation id")] = None,
        event_type: Annotated[Name, Field(description="e.g. memory, preference, meeting")] = (
            "memory"
        ),
        salience: Annotated[
            float, Field(ge=0, le=1, allow_inf_nan=False, description="How much it matters")
        ] = 0.5,
        metadata: Annotated[dict[str, Any] | None, Field(description="Extra JSON")] = None,
        idempotency_key: Annotated[
            ShortText | None, Field(description="Makes a retried call store nothing twice")
        ] = None,
    ) -> CallToolResult:
        body = {
            "content": content,
            "client_id": client_id,
            "session_id": session_id,
            "event_type": event_type,
            "salience_score": salience,
            "metadata": metadata or {},
            "idempotency_key": idempotency_key,
        }
        out = await resolve(ctx).post("/api/v1/memory/remember", json=body)
        text = f"remembered #{out['id']}"
        if out.get("promoted_to_fact_id"):
            text += f", promoted to fact #{out['promoted_to_fact_id']}"
        if out.get("duplicate"):
            text += " (already stored: same idempotency key)"
        if out.get("hint"):
            text += f"; note: {out['hint']}"
        return result(text, out)

    @server.tool(
        description="Search memories, current facts and document chunks (semantic + full "
        "text). Filter by client, time window (since/until, ISO 8601 with offset) and kinds.",
        annotations=read,
    )
    async def recall(
        ctx: Context,  # type: ignore[type-arg]
        query: Annotated[QueryText, Field(description="What to look for")],
        k: Annotated[int, Field(ge=1, le=100, description="How many results")] = 10,
        client_id: ClientId = None,
        since: Annotated[AwareDatetime | None, Field(description="Not before (with offset)")] = (
            None
        ),
        until: Annotated[AwareDatetime | None, Field(description="Not after (with offset)")] = (
            None
        ),
        kinds: Annotated[
            list[Kind] | None, Field(description="event, fact and/or document")
        ] = None,
        session_id: Annotated[ShortText | None, Field(description="One conversation only")] = (
            None
        ),
    ) -> CallToolResult:
        api = resolve(ctx)
        out = await api.get(
            "/api/v1/memory/recall",
            query=query,
            k=k,
            client_id=client_id,
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
            kinds=kinds,
            session_id=session_id,
        )
        return result(hits_text(out["results"], await api.zone(), relevance=True), out)

    @server.tool(
        description="List durable facts: current ones, or every version with include_history.",
        annotations=read,
    )
    async def get_facts(
        ctx: Context,  # type: ignore[type-arg]
        subject_type: Annotated[Name | None, Field(description="e.g. user, client")] = None,
        subject_id: Annotated[ShortText | None, Field(description="e.g. me, 42")] = None,
        fact_type: FactType | None = None,
        include_history: bool = False,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
        for_client: ForClient | None = None,
    ) -> CallToolResult:
        out = await resolve(ctx).get(
            "/api/v1/memory/facts",
            subject_type=subject_type,
            subject_id=subject_id,
            fact_type=fact_type,
            include_history=str(include_history).lower(),
            limit=limit,
            for_client=for_client,
        )
        text = "\n".join(fact_line(f) for f in out) or "no facts"
        return result(text, out)

    @server.tool(
        description="Add a durable fact about a subject. It supersedes the current fact in "
        "the same slot (subject, fact_type, category); the old one is kept as history."
    )
    async def add_fact(
        ctx: Context,  # type: ignore[type-arg]
        subject_type: Annotated[
            Name, Field(max_length=SUBJECT_TYPE_CHARS, description="e.g. user, client")
        ],
        subject_id: Annotated[ShortText, Field(description="e.g. me, 42")],
        fact_type: FactType,
        content: Content,
        category: Annotated[
            str | None, Field(min_length=1, max_length=50, description="Slot, e.g. deep_work")
        ] = None,
        client_id: OwnerClient = None,
        salience: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.7,
    ) -> CallToolResult:
        body = {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "fact_type": fact_type,
            "content": content,
            "category": category,
            "client_id": client_id,
            "salience_score": salience,
        }
        out = await resolve(ctx).post("/api/v1/memory/facts", json=body)
        text = f"added {fact_line(out['fact'])}"
        if out.get("duplicate"):  # "added" read as a second copy of what was held
            text = f"already held, nothing added: {fact_line(out['fact'])}"
        if out.get("superseded_id"):
            text += f"; supersedes fact #{out['superseded_id']}"
        return result(text, out)

    @server.tool(
        description="Forget everything about a subject (events, facts, cached recalls). "
        "Irreversible; needs an admin key.",
        annotations=ToolAnnotations(destructiveHint=True, idempotentHint=True),
    )
    async def forget_subject(
        ctx: Context,  # type: ignore[type-arg]
        subject_type: Name,
        subject_id: ShortText,
    ) -> CallToolResult:
        out = await resolve(ctx).call(
            "DELETE", f"/api/v1/memory/subjects/{segment(subject_type)}/{segment(subject_id)}"
        )
        text = forgot_text(subject_type, subject_id, out)
        counts = [out.get("events_deleted"), out.get("facts_deleted"), out.get("documents_deleted")]
        if not any(counts) and not any((out.get("deleted") or {}).values()):
            # Any subject is legal (REST's too: `client:acme` tags memories), so an unknown
            # one is no error; but "forgot" read as if something had been there.
            text = f"nothing stored about {subject_type}:{subject_id}; nothing deleted"
            if subject_type == "client" and not subject_id.isdigit():
                text += " (client ids are numbers; this matched only memories tagged so)"
        return result(text, out)

    @server.tool(
        description="One text block for a prompt: the facts that matter, the most relevant "
        "memories with dates, open tasks and next blocks (each with its id), packed to fit "
        "token_budget.",
        annotations=read,
    )
    async def context(
        ctx: Context,  # type: ignore[type-arg]
        query: Annotated[QueryText, Field(description="What the conversation is about")],
        client_id: ClientId = None,
        token_budget: Annotated[int, Field(ge=50, le=20_000)] = 1000,
    ) -> CallToolResult:
        out = await resolve(ctx).get(
            "/api/v1/memory/context", query=query, client_id=client_id, token_budget=token_budget
        )
        return result(out["text"], out)
