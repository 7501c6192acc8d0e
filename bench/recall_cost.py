"""What recall's signals (rerank, graph, author, MMR, episodes) cost at 100,000 memories.

Usage: .venv/bin/python bench/recall_cost.py [--memories 100000] [--queries 200]
                                             [--data-dir DIR]

In-process on an embedded Postgres: loads --memories memories the way bench/memory_load.py
writes them (people, clients, topics; 20 clients), 1% of them also naming one of 500 rare
contacts ("... with Hana Okafor"), so that the graph has both hubs (clients, in ~5-13% of
memories each) and selective entities. Then asks distinct questions (half name a rare
contact), each through every configuration in turn -- interleaved, so all see the same
machine -- with a fresh cache (uncached), unfiltered and filtered to one client:

- `vector+text`: the two-list fusion (everything below off), the baseline;
- `rerank+graph`: late interaction over the top `search.rerank_candidates` (memory.rerank)
  and the graph signal (memory.graph_signal), the previous default;
- `+author+aliases`: and the author signal (memory.author_signal) with short forms;
- `+mmr`: and MMR (memory.diversity), the previous default;
- `almanac`: and the episode signal (memory.episodes), the default.

Half the memories are transcript turns ("Priya: ...") and every question names one of
their speakers, so the author signal always has candidates to look up.

Reported: p50/p95 of the recall's own time (`took_ms`) and the ratio of each p50 to the
baseline's. --data-dir keeps the folder and reuses a load of the same size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, percentile, print_table, write_json  # noqa: E402
from memory_load import PEOPLE, question, sentence  # noqa: E402

from almanac.cache.local import LocalCache  # noqa: E402
from almanac.config import Settings  # noqa: E402
from almanac.db.uow import unit_of_work  # noqa: E402
from almanac.memory.schemas import RecallQuery, RememberIn  # noqa: E402
from almanac.memory.service import MemoryService  # noqa: E402
from almanac.state import build_state  # noqa: E402

FIRST = ["Hana", "Tariq", "Ines", "Kofi", "Yuki", "Dmitri", "Leila", "Mateo", "Zara", "Emeka"]
LAST = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Haddad",
    "Novak",
    "Castillo",
    "Brennan",
    "Aziz",
    "Kowalski",
]
_OFF = {"graph_weight": 0.0, "graph_neighbour_weight": 0.0}
_NEW_OFF = {
    "author_weight": 0.0,
    "entity_aliases": False,
    "diversity_lambda": 1.0,
    "episode_weight": 0.0,
}
VARIANTS: dict[str, dict[str, float | bool]] = {
    "vector+text": {"rerank_weight": 0.0, **_OFF, **_NEW_OFF},
    "rerank+graph": _NEW_OFF,
    "+author+aliases": {"diversity_lambda": 1.0, "episode_weight": 0.0},
    "+mmr": {"episode_weight": 0.0},
    "almanac": {},
}
CLIENTS = 20


def contacts() -> list[str]:
    names = [f"{f} {last}" for f in FIRST for last in LAST]
    return [f"{n} {suffix}" for n in names for suffix in ("", "Jr", "Sr", "II", "III")][:500]


def memory(rng: random.Random, people: list[str]) -> str:
    text = sentence(rng)
    if rng.random() < 0.5:  # a transcript turn, with its speaker (the author signal's)
        text = f"{rng.choice(PEOPLE)}: {text}"
    if rng.random() < 0.01:
        text += f", with {rng.choice(people).strip()}"
    return text


async def load(state: Any, n: int, rng: random.Random, people: list[str]) -> float:
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        items = [
            RememberIn(content=memory(rng, people), client_id=1 + (start + i) % CLIENTS)
            for i in range(min(1000, n - start))
        ]
        async with unit_of_work(state.sessionmaker) as uow:
            await MemoryService(uow, state.embedder, state.cache, state.settings).remember_many(
                items
            )
    return time.perf_counter() - t0


async def existing(state: Any) -> int:
    from sqlalchemy import text

    async with state.sessionmaker() as s:
        return int((await s.execute(text("SELECT count(*) FROM events"))).scalar_one())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    people = contacts()
    data_dir = args.data_dir
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    state = await build_state(settings)
    try:
        have = await existing(state)
        load_s = None
        if have != args.memories:
            if have:
                raise SystemExit(f"{data_dir} holds {have} memories, not {args.memories}")
            load_s = await load(state, args.memories, rng, people)
        variants = {
            name: state.settings.model_copy(
                update={"search": state.settings.search.model_copy(update=change)}
            )
            for name, change in VARIANTS.items()
        }
        queries = []
        for i in range(args.queries):
            q = question(rng)
            if i % 2:
                q = f"What did {rng.choice(people).strip()} say about the {q.split('the ')[-1]}"
            queries.append(q)
        took: dict[str, dict[str, list[float]]] = {
            scope: {name: [] for name in variants} for scope in ("unfiltered", "one client")
        }
        for warm in queries[:10]:  # load the model, the token table and the index pages
            async with unit_of_work(state.sessionmaker) as uow:
                svc = MemoryService(uow, state.embedder, LocalCache(), state.settings)
                await svc.recall(RecallQuery(query=warm + " (warm-up)", k=10))
        for i, q in enumerate(queries):
            for scope, extra in (("unfiltered", {}), ("one client", {"client_id": 1 + i % 20})):
                names = list(variants)
                rng.shuffle(names)  # no configuration always runs first (or last)
                for name in names:
                    async with unit_of_work(state.sessionmaker) as uow:
                        svc = MemoryService(uow, state.embedder, LocalCache(), variants[name])
                        out = await svc.recall(RecallQuery(query=q, k=10, **extra))
                    took[scope][name].append(out.took_ms)
    finally:
        await state.close()
    result: dict[str, Any] = {"memories": args.memories, "queries": len(queries), "load_s": load_s}
    for scope, by_name in took.items():
        base = median(by_name["vector+text"])
        result[scope] = {
            name: {
                "p50": median(ms),
                "p95": percentile(ms, 95),
                "p50_vs_vector+text": median(ms) / base,
            }
            for name, ms in by_name.items()
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) this data folder")
    args = parser.parse_args()
    if args.data_dir is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
            args.data_dir = Path(tmp)
            result = asyncio.run(run(args))
    else:
        result = asyncio.run(run(args))
    rows = [
        (scope, name, e["p50"], e["p95"], e["p50_vs_vector+text"])
        for scope in ("unfiltered", "one client")
        for name, e in result[scope].items()
    ]
    print_table(
        f"Recall at {result['memories']} memories, {result['queries']} distinct queries, "
        "uncached (server time, ms)",
        ["scope", "configuration", "p50", "p95", "p50 / vector+text"],
        rows,
    )
    print(f"wrote {write_json('recall_cost', result)}")


if __name__ == "__main__":
    main()
