"""Every domain's background tasks, in one list: what the job queue is given to run.

`almanac.jobs` is infrastructure and imports no domain; the app factory, the CLI's
`almanac worker` and the tests hand it these blueprints.
"""

from __future__ import annotations

import procrastinate

from almanac.memory import tasks as memory_tasks
from almanac.observer import tasks as observer_tasks
from almanac.scheduler import tasks as scheduler_tasks


def task_blueprints() -> list[tuple[procrastinate.Blueprint, str]]:
    """(blueprint, namespace) pairs; task names are `namespace:name`."""
    return [
        (memory_tasks.blueprint, "almanac"),
        (scheduler_tasks.blueprint, "almanac"),
        (observer_tasks.blueprint, "observer"),
    ]
