"""Field types shared by every domain's schemas and query parameters.

Everything a caller sends is bounded here, once: datetimes to years Postgres and Python
can both do arithmetic on, strings to what Postgres text can store, integers to their
column types, JSON documents to a size and depth. A value outside is a 422 naming the
field, never a 500 from the driver.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

MIN_YEAR, MAX_YEAR = 1900, 2200
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
OFFSET_MAX = 1_000_000
METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 8


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a UTC offset or a time zone, e.g. 2026-11-22T09:00:00+01:00")
    # Converting a far-away time to UTC overflows Python's datetime; recency and window
    # arithmetic overflow in SQL. No memory, plan or calendar needs years outside these.
    try:
        year = value.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


# The reasons a number sent as a time or a date is refused, worded once (REST and MCP).
NOT_A_TIME = (
    "must be an ISO 8601 date and time with a UTC offset, e.g. 2026-11-22T09:00:00+01:00 "
    "(a number is not read as a Unix time)"
)
NOT_A_DATE = "must be an ISO 8601 date, e.g. 2026-11-22 (a number is not a date)"


def _is_number(value: Any) -> bool:
    return isinstance(value, bool | int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value) is not None
    )


def _not_a_number(value: Any) -> Any:
    # Lax mode read a number (JSON 1700000000, or "1700000000" in a query) as a Unix time:
    # a memory occurred in 2023, `since=0` meant 1970. A time is ISO 8601 text, as sent back.
    if _is_number(value):
        raise ValueError(NOT_A_TIME)
    return value


# Before `_aware` on every datetime a caller sends: ISO 8601 text only, never a number.
ISO_TEXT = BeforeValidator(_not_a_number)


def _not_a_date_number(value: Any) -> Any:
    # The same for a date: `start_date=1764633600` was read as a Unix time's day.
    if _is_number(value):
        raise ValueError(NOT_A_DATE)
    return value


ISO_DATE = BeforeValidator(_not_a_date_number)


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [p.strip() for v in value for p in (v.split(",") if isinstance(v, str) else [v])]
    return value


# On a list a query takes: `kinds=event,fact` as well as `kinds=event&kinds=fact` (a
# comma list, as `tags` are sent, was one unknown value and a 422 naming neither).
COMMA_SEPARATED = BeforeValidator(_comma_separated)

AwareDatetime = Annotated[datetime, ISO_TEXT, AfterValidator(_aware)]


def six_decimals(value: float) -> float:
    """Hours and weights to six decimals (3.6 ms; a millionth): no quantity needs more,
    and a subnormal such as 5e-324 over- or underflows Postgres' float arithmetic (an
    error there: a 500 from every later read that divides or multiplies by it)."""
    return round(value, 6)


# The least work an estimate or a time record may name: 0.01 h (36 s, the CLI's bound).
# Less is no plannable work (the solver's slots are minutes) and a subnormal such as 5e-324
# read as a real estimate.
MIN_WORK_HOURS = 0.01


def _not_bool(value: Any) -> Any:
    # Pydantic's lax mode reads JSON true/false as 1/0: {"hours": true} recorded an hour.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain non-whitespace text")
    return value


# On text a caller sends: only whitespace is refused, as an error on the field itself (a
# model validator's error named "body", which a GET does not even send).
NOT_BLANK = AfterValidator(_not_blank)


def _visible(value: str) -> str:
    # Zero-width spaces, joiners and other format characters show nothing either: a fact
    # of "\u200b" was as blank as one of spaces, and stored.
    if all(c.isspace() or unicodedata.category(c) == "Cf" for c in value):
        raise ValueError("must contain visible text, not only invisible characters")
    return value


# After NOT_BLANK on stored text that is read back as a statement (a memory, a fact).
VISIBLE = AfterValidator(_visible)


# On a number a caller sends: true and false are refused (numeric strings stay accepted, as
# every schema's numbers are). Written after the bounds, as `WORK_HOURS` is (bounds after a
# validator are no JSON Schema keywords): `Annotated[float, work_bounds(...), NOT_BOOL, ...]`.
NOT_BOOL = BeforeValidator(_not_bool)


def _work_hours(value: float) -> float:
    # 0 is allowed here (an estimate of no work): the message says so ("at least 0.01"
    # read wrong beside an accepted 0).
    if value < 0:
        raise ValueError("must not be negative")
    if 0 < value < MIN_WORK_HOURS:
        raise ValueError(f"must be 0 or at least {MIN_WORK_HOURS} hours (36 seconds)")
    return six_decimals(value) + 0.0  # -0.0 reads as 0


def _some_work_hours(value: float) -> float:
    if value < MIN_WORK_HOURS:  # after `gt=0`: only a sliver is left to refuse
        raise ValueError(f"must be at least {MIN_WORK_HOURS} hours (36 seconds)")
    return six_decimals(value)


def work_bounds(*, le: float, gt: float | None = None) -> Any:
    """An hours-of-work field's bounds, written before `WORK_HOURS`:
    `Annotated[float, work_bounds(le=24, gt=0), WORK_HOURS]`. Bounds after the check
    (`Annotated[WorkHours, Field(le=24)]`) cannot sit on the number, and the OpenAPI
    document carried them as pydantic's `le`/`gt`, no JSON Schema keywords."""
    return Field(allow_inf_nan=False, le=le, gt=gt)


# Hours of work: 0 or from 0.01 h, to six decimals (after `work_bounds`); with
# `work_bounds(gt=0)`, `SOME_WORK_HOURS`: from 0.01 h.
WORK_HOURS = AfterValidator(_work_hours)
SOME_WORK_HOURS = AfterValidator(_some_work_hours)


def _date_in_range(value: date | None) -> date | None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


BoundedDate = Annotated[date, ISO_DATE, AfterValidator(_date_in_range)]


def _span(delta: timedelta) -> str:
    days = delta.days
    if days % 365 == 0 and days >= 365:
        return f"{days // 365} year{'s' * (days > 365)}"
    return f"{days} day{'s' * (days != 1)}"


def too_far(ahead: timedelta, why: str) -> str:
    """Why a value more than `ahead` after now is refused (a field's and a plan's words)."""
    return f"must not be more than {_span(ahead)} in the future ({why})"


def near_now(past: timedelta, ahead: timedelta, why: str) -> AfterValidator:
    """A validator keeping an aware datetime within `past` before and `ahead` after now.

    For fields whose meaning ties them to the present (work done, a block on the calendar):
    the years bound above keeps arithmetic safe, this keeps the value plausible, so a typo
    of a century is a 422 rather than a record or a calendar read of a hundred years.
    """

    def check(value: datetime | None) -> datetime | None:
        if value is None:
            return value
        now = datetime.now(UTC)
        if value < now - past:
            raise ValueError(f"must not be more than {_span(past)} in the past ({why})")
        if value > now + ahead:
            raise ValueError(too_far(ahead, why))
        return value

    return AfterValidator(check)


def near_today(past: timedelta, ahead: timedelta, why: str) -> AfterValidator:
    """`near_now` for a calendar day (today in UTC; the margins dwarf a zone's offset)."""

    def check(value: date | None) -> date | None:
        if value is None:
            return value
        today = datetime.now(UTC).date()
        if value < today - past:
            raise ValueError(f"must not be more than {_span(past)} in the past ({why})")
        if value > today + ahead:
            raise ValueError(too_far(ahead, why))
        return value

    return AfterValidator(check)


# When work was done (a time record, an execution run): it has happened, so at most a day
# ahead (a clock or a zone slightly off), and at most five years back (older history is an
# import, not a record of work; the learning loop reads recent runs).
WORK_TIME_PAST, WORK_TIME_AHEAD = timedelta(days=5 * 365), timedelta(days=1)
WorkTime = Annotated[
    datetime,
    ISO_TEXT,
    AfterValidator(_aware),
    near_now(WORK_TIME_PAST, WORK_TIME_AHEAD, "when the work was done"),
]
# A day whose work is reviewed (a reflection): the same span, by calendar day.
WorkDay = Annotated[
    date,
    ISO_DATE,
    AfterValidator(_date_in_range),
    near_today(WORK_TIME_PAST, WORK_TIME_AHEAD, "a day whose work is reviewed"),
]
# A deadline for planned work: at most a year overdue (a task that slipped), at most ten
# years ahead. The years bound keeps arithmetic safe; this keeps a deadline one plans to.
# A plan's task deadlines (ontology.sop.check_sop) are held to the same `DEADLINE_AHEAD`.
DEADLINE_PAST, DEADLINE_AHEAD = timedelta(days=366), timedelta(days=10 * 365)
DEADLINE_WHY = "a deadline of planned work"
Deadline = Annotated[
    datetime,
    ISO_TEXT,
    AfterValidator(_aware),
    near_now(DEADLINE_PAST, DEADLINE_AHEAD, DEADLINE_WHY),
]
# A sprint's week: planning's span, a year ahead, and five years of history to report on.
SprintWeek = Annotated[
    date,
    ISO_DATE,
    AfterValidator(_date_in_range),
    near_today(WORK_TIME_PAST, timedelta(days=366), "a sprint's week"),
]


def check_text(value: str) -> str:
    """Reject what Postgres text (UTF-8, no NUL) cannot store."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return value


SafeStr = Annotated[str, AfterValidator(check_text)]


def check_strings(value: Any) -> Any:
    """Check every string inside a value (lists, dicts and their keys, nested models)."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key)
            check_strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_strings(item)
    elif isinstance(value, BaseModel):
        for item in value.__dict__.values():
            check_strings(item)
    return value


def _walk(value: Any, depth: int, path: str) -> None:
    if depth > METADATA_MAX_DEPTH:
        raise ValueError(f"must be at most {METADATA_MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _text_at(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text_at(str(key), f"{path} key")
            _walk(item, depth + 1, path)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk(item, depth + 1, path)


def _text_at(value: str, path: str) -> None:
    try:
        check_text(value)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def json_document(limit: int = METADATA_MAX_BYTES) -> AfterValidator:
    """A validator bounding a JSON document's size and depth and its strings' content."""

    def check(value: Any) -> Any:
        _walk(value, 1, "value")
        try:
            text = json.dumps(value, allow_nan=False, default=_plain)
        except ValueError as exc:
            raise ValueError("must be plain JSON (no NaN or Infinity)") from exc
        if len(text.encode()) > limit:
            raise ValueError(f"must be at most {limit} bytes of JSON")
        return value

    return AfterValidator(check)


Metadata = Annotated[dict[str, Any], json_document()]

# Integers as their columns hold them: a larger one is a 422, not a driver overflow.
Int32 = Annotated[int, Field(ge=-INT_MAX - 1, le=INT_MAX)]
# Ids: JSON true is no id 1 (a memory stored for client 1, plan 1 scheduled).
IntId = Annotated[int, Field(ge=1, le=INT_MAX), NOT_BOOL]
BigId = Annotated[int, Field(ge=1, le=BIGINT_MAX), NOT_BOOL]
Offset = Annotated[int, Field(ge=0, le=OFFSET_MAX)]
# What a plan, reflection or recall for one client may see: that client's memories and
# facts plus the user's own (no client); 0 = the user's own only. Never another client's.
ForClient = Annotated[
    int,
    Field(
        ge=0,
        le=INT_MAX,
        description="Only this client's memories and facts plus the user's own (no client); "
        "0 = the user's own only",
    ),
    NOT_BOOL,
]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, no number is NaN or infinite (the
    refusal of NaN by a bound read "must be ≤ 100"), and no string (however deeply
    nested) holds what Postgres text cannot store."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_strings(cls, value: Any) -> Any:
        return check_strings(value)


class PageQuery(BaseModel):
    """A list endpoint's query: `limit` and `offset`; subclasses add their filters.

    Used as a FastAPI query-parameter model (`routing.Params[XQuery]`), so each filter
    is declared, bounded and documented once, and the service receives it whole. A
    parameter it does not take (`?clinet_id=7`) is a 422 naming it (`routing.checked_query`
    reads the fields), not a 200 listing everything as if filtered.
    """

    # Other names a caller may give a field by (short name → field), which the model's own
    # validator maps; `routing.checked_query` accepts them as parameters.
    short_names: ClassVar[Mapping[str, str]] = {}

    limit: Annotated[int, Field(ge=1, le=500)] = 100
    offset: Offset = 0

    def filters(self) -> dict[str, Any]:
        """The filters given, by name (the page's own fields left out)."""
        return self.model_dump(exclude={"limit", "offset"})
