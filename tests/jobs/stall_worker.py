"""A worker in its own process, killed by the test while a job is running."""

from __future__ import annotations

import asyncio
import os
import sys

from almanac.config import Settings
from almanac.jobs.app import build_app
from tests.jobs import sample_tasks


async def main(url: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = build_app(settings, url, blueprints=[(sample_tasks.blueprint, "tests")])
    async with app.open_async():
        await app.run_worker_async(
            name="doomed",
            concurrency=1,
            fetch_job_polling_interval=0.1,
            update_heartbeat_interval=0.5,
        )


if __name__ == "__main__":
    os.environ["ALMANAC_TEST_STALL"] = "1"
    asyncio.run(main(sys.argv[1]))
