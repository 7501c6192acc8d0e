"""The scheduler's pure core: a Problem in, a Schedule out, no I/O and no clock.

`solve` uses CP-SAT (warm-started from, and falling back to, the greedy scheduler);
`greedy_schedule` is the fast earliest-deadline-first heuristic; `validate` independently
checks any schedule against its problem.
"""

from typing import TYPE_CHECKING, Any

from .greedy import greedy_schedule
from .model import (
    Block,
    Floor,
    Interval,
    PreferredWindow,
    Problem,
    Schedule,
    SolveStatus,
    Task,
    Unplaced,
    UnplacedCause,
    Violation,
    Weights,
    WorkingWindow,
    office_hours,
)
from .validator import validate

if TYPE_CHECKING:
    from .cpsat import solve


def __getattr__(name: str) -> Any:
    # OR-Tools (and the pandas it imports) load on the first solve, not at start.
    if name == "solve":
        from .cpsat import solve

        return solve
    raise AttributeError(name)


__all__ = [
    "Block",
    "Floor",
    "Interval",
    "PreferredWindow",
    "Problem",
    "Schedule",
    "SolveStatus",
    "Task",
    "Unplaced",
    "UnplacedCause",
    "Violation",
    "Weights",
    "WorkingWindow",
    "greedy_schedule",
    "office_hours",
    "solve",
    "validate",
]
