"""Tasks share the scheduler's fixtures: the app in the test's transaction, built-in calendar."""

from tests.scheduler.conftest import memory, sched_client, sched_state  # noqa: F401
