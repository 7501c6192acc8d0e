"""What sharing the recall cache's generations through Postgres costs a cached recall.

Without Valkey, several processes on one database must not serve each other's stale
recalls; the in-process cache therefore reads its generations from Postgres (one primary-key
read). This measures a cached recall through the service with generations in memory (the
baseline: one process only) and in Postgres, on an embedded Postgres in a temporary folder.

    .venv/bin/python bench/cache_generations.py     # prints a table, writes bench/results/
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median, percentile, print_table, write_json  # noqa: E402

from almanac.cache import LocalCache  # noqa: E402
from almanac.cache.shared import PostgresGenerations  # noqa: E402
from almanac.config import Settings  # noqa: E402
from almanac.db.uow import UnitOfWork  # noqa: E402
from almanac.memory.schemas import RecallQuery, RememberIn  # noqa: E402
from almanac.memory.service import MemoryService  # noqa: E402
from almanac.state import build_state  # noqa: E402

ROUNDS = 2000


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), _env_file=None)  # type: ignore[call-arg]
        state = await build_state(settings)
        try:
            async with state.sessionmaker() as session:
                uow = UnitOfWork(session)
                service = MemoryService(uow, state.embedder, state.cache, settings)
                items = [RememberIn(content=f"Client note {i} about invoices") for i in range(200)]
                await service.remember_many(items)
                await uow.commit()
            rows = []
            results = {}
            for name, cache in (
                ("in-memory generations (baseline)", LocalCache()),
                ("generations in Postgres", LocalCache(shared=PostgresGenerations(state.engine))),
            ):
                own = replace(state, cache=cache)
                q = RecallQuery(query="invoices for the client", k=10)
                timings = []
                async with own.sessionmaker() as session:
                    service = MemoryService(UnitOfWork(session), own.embedder, cache, settings)
                    await service.recall(q)  # fills the cache
                    for _ in range(ROUNDS):
                        started = time.perf_counter()
                        out = await service.recall(q)
                        timings.append((time.perf_counter() - started) * 1000)
                        assert out.cached
                results[name] = {"p50_ms": median(timings), "p95_ms": percentile(timings, 95)}
                await cache.close()
            base = results["in-memory generations (baseline)"]["p50_ms"]
            for name, r in results.items():
                rows.append((name, r["p50_ms"], r["p95_ms"], r["p50_ms"] / base))
            print_table(
                f"Cached recall, {ROUNDS} rounds",
                ["generations", "p50 ms", "p95 ms", "x baseline"],
                rows,
            )
            write_json("cache_generations", {"rounds": ROUNDS, "results": results})
        finally:
            await state.close()


if __name__ == "__main__":
    asyncio.run(main())
