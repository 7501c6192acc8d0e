"""The relevance floor: does recall say so when nothing relevant exists, and only then?

Usage: .venv/bin/python bench/recall_floor.py [--data PATH/26.json ...] [--embedder-assets DIR]

Each conversation is ingested as in bench/memory_recall.py (one memory per turn). Then two
labelled sets are asked through the real recall path:
- answerable: the conversation's own questions (categories 1-4; their gold turns exist);
- never mentioned: bench/data/never_mentioned.txt, generic questions about things an
  everyday conversation does not touch (VAT numbers, Kubernetes clusters, boiler quotes),
  a third of them naming the conversation's speakers so the names alone do not decide.
Reported: the false-floor rate (answerable questions answered "no match"), the share of
never-mentioned questions floored, recall@10 with the floor on, and the best hit's
`relevance` on both sets (median and percentiles), in the same run. With
`--embedder-assets DIR` the results go to bench/results/recall_floor-<folder>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SHARED_BENCH,
    median,
    percentile,
    print_table,
    require_files,
    result_name,
    write_json,
)
from memory_recall import ingest, load, open_state  # noqa: E402

from almanac.db.uow import unit_of_work  # noqa: E402
from almanac.memory.port import memory_service  # noqa: E402
from almanac.memory.schemas import RecallQuery  # noqa: E402

NEVER = Path(__file__).resolve().parent / "data" / "never_mentioned.txt"


def never_mentioned(speakers: tuple[str, str]) -> list[str]:
    lines = [ln.strip() for ln in NEVER.read_text().splitlines()]
    a, b = speakers
    return [ln.format(a=a, b=b) for ln in lines if ln and not ln.startswith("#")]


def _best(out: Any) -> float:
    return max((h.relevance or 0.0 for h in out.results), default=0.0)


async def run(path: Path, assets: Path | None = None) -> dict[str, Any]:
    conv_id, turns, questions = load(path)
    raw = json.loads(path.read_text())
    conv = raw.get("conversation", raw)
    nevers = never_mentioned((conv["speaker_a"], conv["speaker_b"]))
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await open_state(Path(tmp), assets)
        try:
            session, _ = await ingest(state, conv_id, turns)

            async def ask(text: str) -> Any:
                rq = RecallQuery(query=text, k=10, session_id=session, kinds=["event"])
                async with unit_of_work(state.sessionmaker) as uow:
                    return await memory_service(uow, state).recall(rq)

            answerable = [await ask(q.text) for q in questions]
            never = [await ask(text) for text in nevers]
            embedder_model = state.embedder.model
        finally:
            await state.close()
    found = [
        len(q.gold & {h.metadata["dia_id"] for h in out.results}) / len(q.gold)
        for q, out in zip(questions, answerable, strict=True)
    ]
    best_a = [_best(o) for o in answerable]
    best_n = [_best(o) for o in never]
    return {
        "conversation": conv_id,
        "embedder": embedder_model,
        "answerable": len(answerable),
        "never_mentioned": len(never),
        "false_floor_rate": sum(o.no_match for o in answerable) / len(answerable),
        "never_floored": sum(o.no_match for o in never) / len(never),
        "never_results_mean": sum(len(o.results) for o in never) / len(never),
        "recall@10_with_floor": sum(found) / len(found),
        "best_relevance": {
            "answerable": {
                "p5": percentile(best_a, 5),
                "median": median(best_a),
            },
            "never_mentioned": {
                "median": median(best_n),
                "p95": percentile(best_n, 95),
            },
        },
        "floored_answerable": [
            q.text for q, o in zip(questions, answerable, strict=True) if o.no_match
        ],
        "unfloored_never": [t for t, o in zip(nevers, never, strict=True) if not o.no_match],
    }


async def main_async(paths: list[Path], assets: Path | None) -> list[dict[str, Any]]:
    return [await run(p, assets) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, nargs="+", default=[SHARED_BENCH / "locomo-dev" / "26.json"]
    )
    parser.add_argument("--embedder-assets", type=Path, help="a local model folder to use")
    args = parser.parse_args()
    require_files(parser, args.data)
    results = asyncio.run(main_async(args.data, args.embedder_assets))
    rows = [
        (
            r["conversation"],
            r["answerable"],
            r["never_mentioned"],
            r["false_floor_rate"],
            r["never_floored"],
            r["recall@10_with_floor"],
            r["best_relevance"]["answerable"]["median"],
            r["best_relevance"]["never_mentioned"]["median"],
        )
        for r in results
    ]
    print_table(
        "Relevance floor: answerable vs never-mentioned questions",
        [
            "conv",
            "answerable",
            "never",
            "false floor",
            "never floored",
            "R@10 (floor on)",
            "best rel. (ans.)",
            "best rel. (never)",
        ],
        rows,
    )
    for r in results:
        for text in r["floored_answerable"]:
            print(f"  floored though answerable ({r['conversation']}): {text}")
        for text in r["unfloored_never"]:
            print(f"  not floored though never mentioned ({r['conversation']}): {text}")
    name = result_name("recall_floor", args.embedder_assets)
    print(f"wrote {write_json(name, {'conversations': results})}")


if __name__ == "__main__":
    main()
