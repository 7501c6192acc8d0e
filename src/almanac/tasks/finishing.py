"""When a task was finished: a `finished_at` given in an edit checked against the work
recorded on it, and the task's run ending by then."""

from __future__ import annotations

from datetime import UTC, datetime

from almanac.errors import ValidationFailed
from almanac.models import Task
from almanac.ontology.repository import OntologyRepository
from almanac.tasks.records import holds_its_hours
from almanac.tasks.schemas import TaskPatch


async def finish_time(runs: OntologyRepository, task: Task, body: TaskPatch) -> datetime:
    """`finished_at` checked before anything changes: work recorded after the fact says
    when it was finished (never after now, as its runs), so that week's reflection counts
    it done. Marked done today, every task of a past week counted 0 done there and all
    of them done this week."""
    assert body.finished_at is not None
    if (body.status or task.status) != "done":
        # A finish time on work not done would be dropped, or count it done somewhere.
        raise ValidationFailed(
            "finished_at is for a task marked done: send it with status done",
            field="finished_at",
        )
    now = datetime.now(UTC)
    when = min(body.finished_at, now)
    # Work placed in time (hours "ending now" say how much, not when) ends by then.
    last = max((min(end, now) for _, end, _ in await runs.task_spans(task.id)), default=None)
    if last is not None and last > when:
        raise ValidationFailed(
            f"finished_at {when.isoformat()} is before the last work recorded on the task, "
            f"which ended {last.isoformat()}",
            field="finished_at",
        )
    # A timer still running is work placed from its start on (its span has no end yet):
    # finished before it, the task was done a week before its work began.
    timer = await runs.open_timer(task.id, now)
    if timer is not None and timer.started_at is not None and timer.started_at > when:
        raise ValidationFailed(
            f"finished_at {when.isoformat()} is before execution run {timer.id} of the "
            f"task started ({timer.started_at.isoformat()})",
            field="finished_at",
        )
    return when


async def run_ends_by(runs: OntologyRepository, task: Task, finished: datetime) -> None:
    """The task's completed run ends when the task was finished, not later: estimates
    weigh a run by when it ended, and a task finished three weeks ago whose run ended
    today (hours recorded without an end, a timer stopped by marking it done) counted
    as today's work. Work placed in time after `finished` was refused before, so a run
    ending later ends so only by its closing: each of the runs closing it stopped."""
    for run in await runs.task_runs(task.id, "completed"):
        if run.ended_at is not None and run.ended_at > finished:
            run.ended_at = finished
            holds_its_hours(run, finished, finished)
