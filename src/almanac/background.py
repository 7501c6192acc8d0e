"""Every domain's background tasks, in one list: what the job queue is given to run.

`almanac.jobs` is infrastructure and imports no domain; the app factory, the CLI's
`almanac worker` and the tests hand it these blueprints.
"""

from __future__ import annotations

import procrastinate

from almanac.memory import tasks as memory_tasks
from almanac.memory.forgetting import register_forgetter
from almanac.observer import repository as observer_repository
from almanac.observer import tasks as observer_tasks
from almanac.planner import repository as planner_repository
from almanac.planner import tasks as planner_tasks
from almanac.scheduler import forgetting as scheduler_forgetting
from almanac.scheduler import tasks as scheduler_tasks


def task_blueprints() -> list[tuple[procrastinate.Blueprint, str]]:
    """(blueprint, namespace) pairs; task names are `namespace:name`."""
    return [
        (memory_tasks.blueprint, "almanac"),
        (scheduler_tasks.blueprint, "almanac"),
        (planner_tasks.blueprint, "almanac"),
        (observer_tasks.blueprint, "observer"),
    ]


def install_forgetters() -> None:
    """Let forgetting a subject reach the copies planner, calendar and observer keep."""
    # Before the planner's, which deletes the plans and runs they read.
    register_forgetter(scheduler_forgetting.forget_client_calendar)
    register_forgetter(observer_repository.forget_subject)
    register_forgetter(planner_repository.forget_client)
