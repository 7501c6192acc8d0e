"""The plan status machine: draft → approved → scheduled → active → completed, or cancelled."""

from __future__ import annotations

from almanac.errors import Conflict

NEXT: dict[str, frozenset[str]] = {
    "draft": frozenset({"approved", "cancelled"}),
    "approved": frozenset({"scheduled", "cancelled"}),
    # Rescheduling a scheduled plan keeps it scheduled.
    "scheduled": frozenset({"scheduled", "active", "cancelled"}),
    "active": frozenset({"completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


def require_transition(
    current: str, target: str, *, field: str = "status", plan_id: int | None = None
) -> None:
    """Raise Conflict (409) naming `field` (what the caller sent that asks for the move)
    unless a plan may move from `current` to `target`; `plan_id` makes the advice a
    command to copy."""
    allowed = NEXT.get(current, frozenset())
    if target not in allowed:
        moves = ", ".join(sorted(allowed - {current})) or "none (it is final)"
        if current in allowed:
            moves += f" (or be {current} again)"
        if current == "draft" and target in NEXT["approved"]:
            ref = "ID" if plan_id is None else str(plan_id)
            moves += (
                f" (approve it first: POST /api/v1/planner/plans/{ref}/approve, "
                f"or almanac approve {ref})"
            )
        if current == target:
            raise Conflict(
                f"the plan is already {current}; from {current} it can become: {moves}",
                field=field,
            )
        raise Conflict(
            f"the plan is {current} and cannot become {target}; from {current} it can become: "
            f"{moves}",
            field=field,
        )


# Work under way may be scheduled again: its future blocks are replaced, it stays active.
RESCHEDULABLE = ("scheduled", "active")


def require_schedulable(status: str, plan_id: int) -> None:
    """409 naming `plan_id` unless plan `plan_id`, in `status`, may be scheduled."""
    require_transition(status, "scheduled", field="plan_id", plan_id=plan_id)
