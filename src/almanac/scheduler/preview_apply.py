"""Applying a preview by its `run_id`: exactly the blocks it showed, or a 409 listing what
changed since (the calendar, or blocks that have started), or a 422 naming a window the
request states that is not the preview's."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from almanac.errors import Conflict, NotFound, ValidationFailed
from almanac.models import Plan
from almanac.models.status import SOLVED_PLAN_STATUSES
from almanac.scheduler import calendar_model as cm
from almanac.scheduler import problem as pb
from almanac.scheduler import staleness
from almanac.scheduler.schemas import ScheduleOut

if TYPE_CHECKING:
    from almanac.scheduler.writer import Writer


async def apply_preview(
    writer: Writer,
    plan: Plan,
    run_id: int,
    tz: ZoneInfo,
    now: datetime,
    given: dict[str, Any],
    replan: bool,
) -> ScheduleOut:
    """`Writer.apply_preview`: the preview's blocks written through `writer`."""
    run = await writer.repo.run(run_id, for_update=True)
    if run is None or run.plan_id != plan.id:
        message = f"no preview run {run_id} of plan {plan.id}"
        raise NotFound(message, errors=[{"field": "run_id", "message": message}])
    meta = dict(run.metadata_ or {})
    if ("previous_run_id" in meta) != replan:  # a replan's preview records the run before
        made, here = ("/replan", "/schedule") if not replan else ("/schedule", "/replan")
        message = f"run {run_id} is a preview of {made}, not of {here}; apply it there"
        raise ValidationFailed(message, field="run_id")
    _same_as_preview(run_id, meta, given)
    if run.status == "applied" and meta.get("applied_as"):
        done = await writer.repo.run(int(meta["applied_as"]))
        if done is not None and "response" in (done.metadata_ or {}):
            replay = ScheduleOut.model_validate(done.metadata_["response"])  # a retry
            replay.replayed = True
            return replay
    if run.status != "preview" or "fingerprint" not in meta:
        raise Conflict(
            f"run {run_id} is {run.status}, not a preview that can be applied", field="run_id"
        )
    start = date.fromisoformat(meta["start_date"])
    ctx = await writer.s._context(plan, tz, now, start, int(meta["horizon_days"]))
    plans = await writer.s.plans.with_status(SOLVED_PLAN_STATUSES)
    plan_ids = sorted({p.id for p in plans} | {plan.id})
    rows = await writer.s.tasks.open_of(plan_ids)
    runs = await writer.repo.last_applied_runs(plan_ids)
    inputs = cm.gather(plan, plans, rows, runs, ctx.window, ctx.calendar_window[0])
    changes = staleness.changes_since(
        meta["fingerprint"], staleness.fingerprint(ctx.events, inputs, ctx.window)
    )
    if changes:
        raise Conflict(
            "the calendar changed since this preview; preview again",
            errors=[{"field": "run_id", "message": c} for c in changes],
        )
    written = {int(p): pb.blocks_from_json(rows_) for p, rows_ in (meta.get("plans") or {}).items()}
    if late := staleness.started_since(written, inputs.previous, now):
        raise Conflict(  # the fingerprint holds no time: a preview applied late
            "blocks of this preview have started or passed since; preview again",
            errors=[{"field": "run_id", "message": m} for m in late],
        )
    task_ids = {cid: r.id for cid, r in inputs.rows.items()}
    out = ScheduleOut.model_validate(meta["response"])
    out.warnings = [m for m in out.warnings if not m.startswith("preview only")]
    meta.pop("response", None)
    titles = {cid: r.title for cid, r in inputs.rows.items()}
    result = await writer.write(
        ctx, written, task_ids, {**meta, "from_preview": run_id}, out, titles
    )
    run.status = "applied"
    run.metadata_ = {**meta, "applied_as": result.run_id}
    await writer.repo.session.flush()
    return result


def _same_as_preview(run_id: int, meta: dict[str, Any], given: dict[str, Any]) -> None:
    """422 naming the first of `given` (start_date, horizon_days, scope) that differs from
    what preview `run_id` used: writing the preview would silently ignore it."""
    for name, value in given.items():
        stored = meta.get(name)
        if stored is None:  # a preview stored before it was recorded (scope)
            continue
        wanted = value.isoformat() if isinstance(value, date) else value
        if wanted != stored:
            raise ValidationFailed(
                f"{name} {wanted} differs from the {stored} of preview run {run_id}; omit it "
                "or send the preview's value to write the preview, or preview again",
                field=name,
            )
