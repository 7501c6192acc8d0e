"""Request and response shapes of /api/v1/planner/tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import InitErrorDetails

from almanac.models.status import TaskStatus
from almanac.scheduler.schemas import BlockChangeOut, CalendarWriteOut
from almanac.types import (
    NOT_BLANK,
    NOT_BOOL,
    SOME_WORK_HOURS,
    VISIBLE,
    WORK_HOURS,
    AwareDatetime,
    BigId,
    BoundedDate,
    Deadline,
    PageQuery,
    Strict,
    WorkTime,
    work_bounds,
)


class TaskOut(BaseModel):
    id: int
    plan_id: int | None
    key: str | None
    title: str
    description: str | None
    estimate_hours: float | None
    logged_hours: float
    # Hours of its blocks the user deleted from their calendar: not planned again until
    # its estimate is set anew (they are off `remaining_hours`, which said 0 h unexplained).
    removed_hours: float
    remaining_hours: float | None
    priority: int
    billable: bool
    status: str
    depends_on: list[str]
    earliest_start: datetime | None
    deadline: datetime | None
    scheduled_start: datetime | None
    finished_at: datetime | None  # when it was marked done; None while not done
    client_id: int | None


_SHORT_FILTERS = {"plan": "plan_id", "client": "client_id"}


class TaskQuery(PageQuery):
    short_names = _SHORT_FILTERS

    plan_id: BigId | None = Field(None, description="also accepted as `plan`")
    client_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(
        None, description="also accepted as `client`"
    )
    status: TaskStatus | None = None
    due_before: AwareDatetime | None = None
    on: BoundedDate | None = Field(
        None, description="with a block, scheduled or due that local day, or in progress"
    )

    @model_validator(mode="wrap")
    @classmethod
    def _short_names(cls, data: object, handler: ModelWrapValidatorHandler[TaskQuery]) -> TaskQuery:
        """`plan` and `client`, the issue's and the CLI's words, name the same filters; a bad
        value is a 422 naming the word the caller sent (`client`, not `client_id`)."""
        if not isinstance(data, dict):
            return handler(data)
        out, given = dict(data), {}
        for short, name in cls.short_names.items():
            if short in out and name not in out:  # both: `routing.checked_query` refuses
                out[name] = out.pop(short)
                given[name] = short
        try:
            return handler(out)
        except ValidationError as exc:
            if not given:
                raise
            errors: list[InitErrorDetails] = [
                {
                    "type": e["type"],
                    "loc": (given.get(str(e["loc"][0]), e["loc"][0]), *e["loc"][1:])
                    if e["loc"]
                    else (),
                    "input": e["input"],
                    "ctx": e.get("ctx", {}),
                }
                for e in exc.errors()
            ]
            raise ValidationError.from_exception_data(exc.title, errors) from None


class TaskList(BaseModel):
    items: list[TaskOut]
    total: int
    limit: int
    offset: int


def _null_only_for_deadline(schema: JsonDict) -> None:
    """The schema says null only where it is accepted: `deadline` (clears it). The other
    fields are `X | None` so that leaving them out reads as None, but null is refused."""
    props = schema.get("properties")
    for name, prop in props.items() if isinstance(props, dict) else ():
        if name == "deadline" or not isinstance(prop, dict):
            continue
        prop.pop("default", None)
        options = prop.get("anyOf")
        if isinstance(options, list):
            kept = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            if len(kept) == 1 and isinstance(kept[0], dict):
                del prop["anyOf"]
                prop.update(kept[0])


class TaskPatch(Strict):
    """Fields to change; the ones left out stay as they are; `deadline: null` clears it."""

    title: Annotated[str, Field(min_length=1, max_length=500), NOT_BLANK, VISIBLE] | None = None
    estimate_hours: Annotated[float, work_bounds(le=1000), NOT_BOOL, WORK_HOURS] | None = None
    priority: Annotated[int, Field(ge=1, le=4), NOT_BOOL] | None = None  # 1 low ... 4 urgent
    deadline: Deadline | None = None
    status: TaskStatus | None = None
    # For work recorded after the fact: when it was finished (default: now, when it is marked
    # done). Reflections count a done task in the period it was finished in.
    finished_at: WorkTime | None = Field(
        default=None,
        description="with status done, or on a done task: when it was finished (default now)",
    )

    model_config = ConfigDict(json_schema_extra=_null_only_for_deadline)  # merged with Strict's

    @field_validator("title", "estimate_hours", "priority", "status", "finished_at")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # null was read as "left out": a 200 that changed nothing the caller asked for.
        if value is None:
            raise ValueError("must not be null (omit the field to keep the current value)")
        return value

    @property
    def clears_deadline(self) -> bool:
        return "deadline" in self.model_fields_set and self.deadline is None


class TimeIn(Strict):
    """Hours worked on a task; `idempotency_key` makes a retried request count once."""

    hours: Annotated[float, work_bounds(gt=0, le=24), NOT_BOOL, SOME_WORK_HOURS]
    ended_at: WorkTime | None = None  # default now; at most a day ahead, five years back
    note: Annotated[str, Field(max_length=2000)] | None = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class TimeOut(BaseModel):
    task: TaskOut
    execution_run_id: int
    actual_hours: float  # all hours recorded against the task
    duplicate: bool = False  # True when the idempotency key was seen before
    # Future blocks freed or shortened so they add up to no more than the hours left.
    blocks: list[BlockChangeOut] = Field(default_factory=list)
    calendar: CalendarWriteOut | None = None  # the write; `pending` when a remote one is down
    # Taken, but it shares time with another task's record (the same hours counted twice).
    warnings: list[str] = Field(default_factory=list)


class TaskUpdateOut(BaseModel):
    task: TaskOut
    released_blocks: int = 0  # future blocks freed (done, cancelled, or a lower estimate)
    # Every future block freed or shortened: a closed task frees all of them; a lower
    # estimate shrinks them, the latest first, to the estimate less the hours recorded.
    blocks: list[BlockChangeOut] = Field(default_factory=list)
    calendar: CalendarWriteOut | None = None  # the write; `pending` when a remote one is down
    note: str | None = None  # e.g. a higher estimate adds no blocks until the next schedule
