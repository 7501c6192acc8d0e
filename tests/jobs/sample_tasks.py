"""Tasks used by the job tests; they talk to Postgres directly so a bare worker can run them.

`ALMANAC_TEST_CONNINFO` names the database; `ALMANAC_TEST_STALL=1` makes `stall` hang
after its effect is committed (the subprocess worker that gets killed).
"""

from __future__ import annotations

import asyncio
import os

import procrastinate
import psycopg
from procrastinate import JobContext

from almanac.jobs.app import Backoff

blueprint = procrastinate.Blueprint()

EFFECTS_DDL = "CREATE TABLE IF NOT EXISTS job_test_effects (key text PRIMARY KEY)"


async def _effect(key: str) -> None:
    async with await psycopg.AsyncConnection.connect(os.environ["ALMANAC_TEST_CONNINFO"]) as conn:
        # Idempotent: a second run of the same job adds nothing.
        await conn.execute(
            "INSERT INTO job_test_effects (key) VALUES (%s) ON CONFLICT DO NOTHING", (key,)
        )


@blueprint.task(name="record")
async def record(key: str) -> None:
    await _effect(key)


@blueprint.task(name="flaky", pass_context=True, retry=Backoff(max_attempts=5, base_seconds=0.01))
async def flaky(context: JobContext, key: str) -> None:
    assert context.job.attempts is not None
    if context.job.attempts < 2:
        raise RuntimeError(f"attempt {context.job.attempts + 1} fails")
    await _effect(key)


@blueprint.task(name="stall")
async def stall(key: str) -> None:
    await _effect(key)
    if os.environ.get("ALMANAC_TEST_STALL") == "1":
        await asyncio.sleep(3600)
