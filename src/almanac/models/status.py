"""The values the status columns hold: plans, tasks, process templates and runs, in one place.

Words: a *task* ends `done` (or `cancelled`); a *plan*, a *process template* and an
*execution run* end `completed`. The plan's transitions live in `planner.status`.
"""

from __future__ import annotations

from typing import Literal

PlanStatus = Literal["draft", "approved", "scheduled", "active", "completed", "cancelled"]
# Plans the solver places, and those whose blocks are in the calendar.
SOLVED_PLAN_STATUSES = ("approved", "scheduled", "active")
WRITTEN_PLAN_STATUSES = ("scheduled", "active")
# Closing a plan frees its future blocks.
CLOSED_PLAN_STATUSES = ("completed", "cancelled")

TaskStatus = Literal["todo", "in_progress", "done", "cancelled"]
# Closing a task (through the API) frees its future blocks.
CLOSED_TASK_STATUSES_API = ("done", "cancelled")
# What counts as finished when reading: also the words rows written by older versions or
# by hand may hold ("completed", "skipped").
DONE_TASK_STATUSES = frozenset({"done", "completed"})
CLOSED_TASK_STATUSES = ("done", "completed", "cancelled", "skipped")

TemplateStatus = Literal["draft", "active", "paused", "completed"]
RunStatus = Literal["in_progress", "completed"]  # execution runs (time worked on a task)

# Scheduler runs: a `preview` (or `invalid`) shows a schedule; `scheduled` and `pinned`
# runs wrote their blocks, which are what the calendar shows.
APPLIED_RUN_STATUSES = ("scheduled", "pinned")
