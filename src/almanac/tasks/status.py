"""Which status a task may be given by an edit."""

from __future__ import annotations

from almanac.errors import Conflict
from almanac.models import Task
from almanac.planner.repository import PlanRepository


async def require_status_change(plans: PlanRepository, task: Task, status: str) -> None:
    """409 naming `status` unless `task` may move to it. A cancelled task takes no time
    (`TaskService.log_time`), so it is reopened before it is done; a cancelled plan's tasks
    stay as they are (done ones done), as the plan does: finished behind its back, their
    hours counted in reflections and were learnt from by the next plan."""
    plan = await plans.get(task.plan_id) if task.plan_id is not None else None
    if plan is not None and plan.status == "cancelled":
        raise Conflict(
            f"plan {plan.id} is cancelled: its tasks are not finished or reopened "
            f"(task {task.id} stays {task.status}; what was recorded on it stays)",
            field="status",
        )
    if task.status == "cancelled" and status == "done":
        raise Conflict(
            f"task {task.id} is cancelled: reopen it first (status todo), then record its "
            "time and mark it done",
            field="status",
        )
