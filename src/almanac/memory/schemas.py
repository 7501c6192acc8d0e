"""Request and response shapes of the Memory Gateway (a contract other tools rely on)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from almanac.types import (
    NOT_BLANK,
    NOT_BOOL,
    VISIBLE,
    AwareDatetime,
    ForClient,
    IntId,
    Metadata,
    Strict,
    six_decimals,
)

MemoryScope = Literal["run", "session", "user", "project", "global"]
FactType = Literal["preference", "constraint", "identity", "pattern", "result"]
Kind = Literal["event", "fact", "document"]


Content = Annotated[str, Field(min_length=1, max_length=20_000), NOT_BLANK, VISIBLE]
ShortText = Annotated[str, Field(min_length=1, max_length=255), NOT_BLANK]
# A subject is also a graph node, `<type>:<id>`, whose type column holds 50 characters: a
# longer type was a 500 from the graph trigger (after the fact passed validation), and a
# type with ":" made a node of another type ("plan:1" + "me" read as plan "1:me").
SUBJECT_TYPE_CHARS = 50


def node_type(value: str) -> str:
    if ":" in value:
        raise ValueError("a subject type has no ':' (it names the subject's graph node type)")
    return value


SubjectType = Annotated[
    str, Field(min_length=1, max_length=SUBJECT_TYPE_CHARS), NOT_BLANK, AfterValidator(node_type)
]
SubjectId = Annotated[str, Field(min_length=1, max_length=255), NOT_BLANK]


def canonical_subject(subject_type: str, subject_id: str) -> tuple[str, str]:
    """A client subject as whose-it-is reads it (`client`, the id without spaces): written
    "Client"/"7" it was no client's, the user's own shown to every client, and "client"/
    " 7" was client " 7"'s, shown to none. Other subjects are kept as written."""
    if subject_type.strip().casefold() == "client":
        # Invisible marks (a zero-width space, a direction mark pasted along) and other
        # digits (full-width, Arabic-Indic) are no other client: "7\u200b" was no client's.
        ident = unicodedata.normalize("NFKC", subject_id)
        ident = "".join(ch for ch in ident if unicodedata.category(ch) != "Cf").strip()
        # "07" is client 7: kept as written it was shown to no client, and outlived its
        # forgetting (which takes the id as recall reads it).
        if ident.isdecimal():
            ident = str(int(ident))
        return "client", ident
    return subject_type, subject_id


# A subnormal salience made recall's boost underflow: every recall and plan answered 500.
# NaN and Infinity (JSON's parsers take them) are refused as such: NaN's refusal said only
# "less than or equal to 1".
Salience = Annotated[
    float, Field(ge=0, le=1, allow_inf_nan=False), NOT_BOOL, AfterValidator(six_decimals)
]


class RememberIn(Strict):
    """One memory to store."""

    content: Content
    event_type: Annotated[str, Field(min_length=1, max_length=100)] = "memory"
    event_source: Annotated[str, Field(min_length=1, max_length=50)] = "user"
    client_id: IntId | None = None
    session_id: ShortText | None = None
    memory_scope: MemoryScope = "session"
    salience_score: Salience = 0.5
    occurred_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    metadata: Metadata = Field(default_factory=dict)
    idempotency_key: ShortText | None = None

    @model_validator(mode="after")
    def _client_subject(self) -> RememberIn:
        kind, ident = self.metadata.get("subject_type"), self.metadata.get("subject_id")
        # A client's id as a JSON number ("Client", 7) is read as its text: left as
        # written, "Client" was no client's, the user's own, recalled for every client.
        client = isinstance(kind, str) and kind.strip().casefold() == "client"
        if client and isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        if isinstance(kind, str) and isinstance(ident, str):
            kind, ident = canonical_subject(kind, ident)
            self.metadata = {**self.metadata, "subject_type": kind, "subject_id": ident}
        return self


class RememberOut(BaseModel):
    """The stored memory's id and where it went."""

    id: int
    stored_in: list[str]
    promoted_to_fact_id: int | None
    duplicate: bool
    # Set by the app (the scheduler's rules; memory sits below it): a plain memory that
    # reads as a scheduling preference, which only a preference fact would apply.
    hint: str | None = None


class RememberBatchIn(Strict):
    items: Annotated[list[RememberIn], Field(min_length=1, max_length=1000)]


class RememberBatchOut(BaseModel):
    ids: list[int]
    duplicates: list[int] = Field(description="Positions of items whose idempotency key was seen")
    stored_in: list[str]


# Marks that show nothing and join nothing, pasted along from the web: inside a word they
# split it for the full-text search ("budget\u200b" found nothing where "budget" found ten).
# Joiners (U+200C, U+200D) stay: some scripts and emoji need them.
_SILENT_MARKS = (
    dict.fromkeys(
        map(ord, "\u00ad\u061c\u180e\u200b\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"),
        None,
    )
    | dict.fromkeys(range(0x202A, 0x202F), None)
    | dict.fromkeys(range(0x2066, 0x206A), None)
)


def _without_silent_marks(value: str) -> str:
    return value.translate(_SILENT_MARKS)


class RecallQuery(Strict):
    """Parameters of a recall; filters are applied in SQL."""

    query: Annotated[
        str,
        Field(min_length=1, max_length=2000),
        NOT_BLANK,
        AfterValidator(_without_silent_marks),
    ]
    k: Annotated[int, Field(ge=1, le=100)] = 10
    session_id: ShortText | None = None
    client_id: IntId | None = None
    memory_scope: MemoryScope | None = None
    event_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    as_of: AwareDatetime | None = None
    kinds: list[Kind] | None = None
    for_client: ForClient | None = None
    # False: the nearest memories whatever their relevance (a listing, not a question).
    floor: bool = True

    @field_validator("until")
    @classmethod
    def _window(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if since is not None and until is not None and since > until:
            raise ValueError("must not be before since")
        return until


class RecallHit(BaseModel):
    # Negative for a result that exists only in Zep (a stable number derived from `ref`).
    id: int
    kind: Kind
    content: str
    score: float
    source: Literal["postgres", "zep"]
    occurred_at: datetime | None
    session_id: str | None
    metadata: dict[str, Any]
    # Zep's id (edge or episode uuid) for results that came from Zep.
    ref: str | None = None
    # Comparable across queries, in [0, 1]; 0.5 is the floor (see memory.relevance). A
    # result from Zep is scored on the same scale, by the local embedder and words.
    relevance: float | None = None


class RecallOut(BaseModel):
    query: str
    results: list[RecallHit]
    cached: bool
    took_ms: float
    # "used": Zep answered within the budget and its results are fused in; "skipped": Zep
    # was too slow or failed and the answer is Postgres alone; "off": not configured, or
    # the query has filters Zep cannot apply (session, scope, type, time window, kinds);
    # "cached": a cached answer (Zep answered when it was cached, and was not asked now, so
    # this says nothing of whether Zep is up: `/health` does).
    zep: Literal["used", "skipped", "cached", "off"] = "off"
    # True when a dependency was unavailable for this answer (Zep skipped, or the cache
    # down), which `detail` names; `detail` also says when Zep's part came from the cache,
    # and why a query with no letter or digit found nothing (it was not searched).
    degraded: bool = False
    detail: str | None = None
    # True when nothing stored reaches the relevance floor: recall then returns no
    # results rather than the nearest unrelated memories.
    no_match: bool = False


class FactIn(Strict):
    """A durable statement about a subject."""

    subject_type: SubjectType
    subject_id: SubjectId
    fact_type: FactType
    content: Content
    salience_score: Salience = 0.5
    category: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    client_id: IntId | None = None
    valid_from: AwareDatetime | None = None
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _client_subject(self) -> FactIn:
        self.subject_type, self.subject_id = canonical_subject(self.subject_type, self.subject_id)
        return self


class SupersedeIn(Strict):
    """The successor of a fact; unspecified fields are carried over."""

    content: Content
    valid_from: AwareDatetime | None = None
    salience_score: Salience | None = None
    metadata: Metadata | None = None


class FactOut(BaseModel):
    id: int
    subject_type: str
    subject_id: str
    fact_type: str
    content: str
    salience_score: float
    category: str | None
    client_id: int | None
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime
    metadata: dict[str, Any]
    supersedes_id: int | None
    source_event_id: int | None
    current: bool


class FactWriteOut(BaseModel):
    fact: FactOut
    superseded_id: int | None = None
    duplicate: bool = False


class FactsQuery(Strict):
    subject_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    subject_id: ShortText | None = None
    fact_type: FactType | None = None
    include_history: bool = False  # before as_of, which is checked against it
    as_of: AwareDatetime | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    for_client: ForClient | None = None

    @field_validator("subject_type")
    @classmethod
    def _client_type(cls, value: str | None) -> str | None:
        return None if value is None else canonical_subject(value, "")[0]

    @field_validator("subject_id")
    @classmethod
    def _client_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        # `?subject_type=client&subject_id=%207` finds client 7's facts, stored as "7".
        kind = info.data.get("subject_type")
        return value if value is None or kind is None else canonical_subject(kind, value)[1]

    @field_validator("as_of")
    @classmethod
    def _one_view(cls, as_of: datetime | None, info: ValidationInfo) -> datetime | None:
        # Every version is listed with include_history: as_of was ignored, a listing
        # answered as if filtered by a time it was not.
        if as_of is not None and info.data.get("include_history"):
            raise ValueError("lists the facts valid then; leave it out with include_history")
        return as_of


class EventOut(BaseModel):
    id: int
    content: str
    event_type: str
    event_source: str
    client_id: int | None
    session_id: str | None
    memory_scope: str
    salience_score: float
    occurred_at: datetime
    expires_at: datetime | None
    metadata: dict[str, Any]
    promoted_to_fact_id: int | None
    created_at: datetime


class DeletedOut(BaseModel):
    deleted: bool = True
    id: int
    kind: Kind


class ForgetOut(BaseModel):
    subject_type: str
    subject_id: str
    events_deleted: int
    facts_deleted: int
    documents_deleted: int = 0
    cache_invalidated: bool
    deleted: dict[str, int] = Field(
        default_factory=dict,
        description="Rows (or archive lines) removed from each store: events, facts, documents, "
        "their embeddings, search_terms, plans, process_templates, execution_runs, "
        "calendar_entries, fact_decisions, reflections, queued_jobs, retention_archive_lines, "
        "derived_facts (patterns counting a forgotten client's runs), reflections_changed "
        "(stored reports its slipped tasks were taken out of), "
        "and the blocks deleted from an external calendar (caldav_events, google_events)",
    )
    pending: dict[str, str] = Field(
        default_factory=dict,
        description="Stores not reached yet (an external calendar that is down): why, and the "
        "job that deletes their copies when the store answers again",
    )
    # What Almanac wrote to Zep: "deleted" there too; "queued" when Zep was slow, down or
    # answered an error (a job retries until it is gone, see `zep_detail`); "off" when
    # Zep is not configured or held nothing of the subject.
    zep: Literal["deleted", "queued", "off"] = "off"
    zep_detail: str | None = None


class RetentionIn(Strict):
    """A retention run: events older than `days` that never became facts."""

    days: Annotated[int, Field(ge=1, le=36_500), NOT_BOOL] | None = Field(
        default=None, description="Age in days (default: the server's jobs.retention_days)"
    )
    dry_run: bool = Field(default=False, description="Count only; change nothing")


class RetentionOut(BaseModel):
    """What a retention run found and did."""

    cutoff: datetime
    dry_run: bool
    eligible: int = Field(description="Old events not promoted to facts (archived, deleted)")
    kept_promoted: int = Field(description="Old events promoted to facts (kept)")
    deleted: int
    pruned: int = Field(
        default=0, description="Entity nodes no remaining memory names, removed with them"
    )
    ended_facts: int = Field(
        default=0, description="Graph nodes of facts whose valid_to has passed, removed"
    )
    files: list[str] = Field(description="Archives written under the data folder's retention/")
