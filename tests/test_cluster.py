"""Two `almanac serve` and two `almanac worker` processes on one Postgres, one of each killed
with SIGKILL mid-load: no acknowledged write is lost, nothing is done twice, nothing is left
stuck (the short version of `make bench-cluster`, on a fresh database of the suite's server).
"""

from __future__ import annotations

import argparse

from bench.cluster_bench import failures, run

from tests.databases import fresh_database

DATABASE = "almanac_cluster_test"


async def test_killing_a_server_and_a_worker_mid_load_loses_and_repeats_nothing(
    pg_url: str,
) -> None:
    args = argparse.Namespace(
        seconds=14.0,
        kill_after=5.0,
        clients=4,
        stalled_after=5.0,
        job_wait=2.0,
        no_valkey=True,  # the processes then share invalidation through Postgres alone
        database_url=await fresh_database(pg_url, DATABASE),
        keep_logs=False,
    )
    result = await run(args)
    assert failures(result) == []
    checks = result["checks"]
    assert checks["acknowledged_remembers"] > 0
    assert checks["applied_schedules"] > 0
    # Clients retried on the survivor: what they saw failing is what no server completed.
    # The survivor's error rate is reported, and bounded: right after the kill a call may
    # still meet what the dead server held (one in 130 in a CI run), never a stream of them.
    assert result["survivor"]["after"]["requests"] > 0
    assert result["survivor"]["after"]["error_rate"] <= 0.05, result.get("errors_seen")
