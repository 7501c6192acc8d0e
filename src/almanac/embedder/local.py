"""The default embedder: a small model run locally, with no torch and no network.

The model lives in a folder of assets built by `scripts/build_embedder.py`:
`manifest.json` (name, dim, format, max_length, sha256 of the model file), `tokenizer.json`
and the model file. Two formats are understood:

- `static` (the packaged default, `minilm-l6-m2v384`): a model2vec distillation of
  all-MiniLM-L6-v2, a table of 384-d token vectors (`embeddings.npy`, float16) averaged over
  the text's tokens. Chosen over the int8 transformer because it measured better recall on
  the LoCoMo dev conversation and embeds ~75-90x faster on a 2-core CPU
  (`scripts/eval_embedder.py`).
- `onnx`: a transformer (e.g. MiniLM-L6 int8) run by onnxruntime; its token states are
  mean-pooled under the attention mask.

Either way the result is L2-normalised float32, and input is truncated to `max_length`
tokens (256 by default).

Loading is lazy: the constructor only reads and checks the manifest (cheap, and it fails
early on a missing or broken asset folder); the tokenizer and the model are loaded on first
use, or by `load()`, in a worker thread. All CPU work runs through `asyncio.to_thread` under
one lock, so concurrent calls are safe and never block the event loop; they run one after
another, which on a small machine is also the fastest order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from almanac.embedder.base import Embedder, Vectors

DEFAULT_ASSETS = Path(__file__).resolve().parent / "assets" / "minilm-l6-m2v384"

_FORMATS = ("onnx", "static")
_ONNX_POSITION_LIMIT = 512  # BERT's position table
# Text is cut to this many characters per allowed token before tokenising, so a huge input
# costs little; English runs ~4-5 characters a token, so ordinary text is never affected.
_CHARS_PER_TOKEN_CAP = 32


class EmbedderAssetError(RuntimeError):
    """The asset folder is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What `manifest.json` says about a built model."""

    name: str
    format: str
    dim: int
    max_length: int
    model_file: str
    model_sha256: str
    tokenizer_file: str
    add_special_tokens: bool
    pad_id: int
    unk_id: int | None

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / "manifest.json"
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise EmbedderAssetError(f"no embedder manifest at {path}") from exc
        except (OSError, ValueError) as exc:
            raise EmbedderAssetError(f"unreadable embedder manifest {path}: {exc}") from exc
        try:
            manifest = cls(
                name=str(raw["name"]),
                format=str(raw["format"]),
                dim=int(raw["dim"]),
                max_length=int(raw["max_length"]),
                model_file=str(raw["model_file"]),
                model_sha256=str(raw["model_sha256"]).lower(),
                tokenizer_file=str(raw.get("tokenizer_file", "tokenizer.json")),
                add_special_tokens=bool(raw.get("add_special_tokens", True)),
                pad_id=int(raw.get("pad_id", 0)),
                unk_id=None if raw.get("unk_id") is None else int(raw["unk_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderAssetError(f"invalid embedder manifest {path}: {exc!r}") from exc
        if manifest.format not in _FORMATS:
            raise EmbedderAssetError(f"unknown embedder format {manifest.format!r} in {path}")
        if manifest.dim < 1 or manifest.max_length < 1:
            raise EmbedderAssetError(f"invalid dim/max_length in {path}")
        for name in (manifest.model_file, manifest.tokenizer_file):
            if not (folder / name).is_file():
                raise EmbedderAssetError(f"{folder / name} is missing (see manifest {path})")
        return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _l2_normalise(x: npt.NDArray[np.float32]) -> Vectors:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Vectors = (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out


class _Runner:
    """The loaded model: tokenizer plus either an ORT session or a token table."""

    def __init__(self, folder: Path, manifest: Manifest, max_length: int, threads: int) -> None:
        from tokenizers import Tokenizer

        model_path = folder / manifest.model_file
        if _sha256(model_path) != manifest.model_sha256:
            raise EmbedderAssetError(f"{model_path} does not match the sha256 in its manifest")
        self.manifest = manifest
        self.max_length = max_length
        self.tokenizer: Any = Tokenizer.from_file(str(folder / manifest.tokenizer_file))
        # Configured once here and never changed afterwards (shared across threads).
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        self.session: Any = None
        self.table: npt.NDArray[np.float16] | None = None
        self.fallback: npt.NDArray[np.float32] | None = None
        if manifest.format == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.inter_op_num_threads = 1
            if threads > 0:
                options.intra_op_num_threads = threads
            self.session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self.input_names = {i.name for i in self.session.get_inputs()}
        else:
            # Half precision in memory halves the table's share of the server's RSS; token
            # vectors are summed in float32 below, so pooling loses nothing measurable.
            table = np.load(model_path, allow_pickle=False).astype(np.float16)
            if table.ndim != 2 or table.shape[1] != manifest.dim:
                raise EmbedderAssetError(f"{model_path} has shape {table.shape}, not (*, dim)")
            self.table = table
            # Text with no known token at all gets the average token (still a unit vector).
            mean = table.mean(axis=0, keepdims=True, dtype=np.float32)
            self.fallback = _l2_normalise(mean)[0]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        cap = self.max_length * _CHARS_PER_TOKEN_CAP
        encodings = self.tokenizer.encode_batch(
            [t[:cap] for t in texts], add_special_tokens=self.manifest.add_special_tokens
        )
        ids: list[list[int]] = [list(e.ids) for e in encodings]
        unk = self.manifest.unk_id
        if self.manifest.format == "static" and unk is not None:
            ids = [[t for t in seq if t != unk] for seq in ids]
        return ids

    def embed(self, texts: Sequence[str], batch_size: int) -> Vectors:
        dim = self.manifest.dim
        out = np.empty((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts)
        # Longest first, so that each batch pads to a similar length.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._embed_batch([ids[i] for i in chunk])
        return out

    def _embed_batch(self, seqs: list[list[int]]) -> Vectors:
        width = max(1, max(len(s) for s in seqs))
        input_ids = np.full((len(seqs), width), self.manifest.pad_id, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for row, seq in enumerate(seqs):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        maskf = mask[..., None].astype(np.float32)
        if self.session is not None:
            feeds = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(input_ids)
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
            hidden = np.asarray(hidden, dtype=np.float32)
        else:
            assert self.table is not None
            hidden = self.table[input_ids].astype(np.float32)
        counts = maskf.sum(axis=1)
        pooled = (hidden * maskf).sum(axis=1) / np.maximum(counts, 1.0)
        vectors = _l2_normalise(pooled.astype(np.float32, copy=False))
        if self.fallback is not None:
            empty = counts[:, 0] == 0
            if empty.any():
                vectors[empty] = self.fallback
        return vectors


class LocalEmbedder(Embedder):
    """Embeds on this machine's CPU from a built asset folder (default: MiniLM-L6 model2vec)."""

    def __init__(
        self,
        assets: Path | str | None = None,
        *,
        batch_size: int = 64,
        threads: int = 0,
        max_length: int | None = None,
    ) -> None:
        """Read the manifest now; load the model on first use (or `load()`).

        `threads` is onnxruntime's intra-op thread count (0 lets the runtime decide); the
        static format does not use it.
        `max_length` (tokens) defaults to the manifest's; longer input is truncated.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if threads < 0:
            raise ValueError("threads must be >= 0")
        self.assets = Path(assets) if assets is not None else DEFAULT_ASSETS
        self.manifest = Manifest.read(self.assets)
        limit = self.manifest.max_length if max_length is None else max_length
        if limit < 1 or (self.manifest.format == "onnx" and limit > _ONNX_POSITION_LIMIT):
            raise ValueError(f"max_length must be in 1..{_ONNX_POSITION_LIMIT}")
        self.model = self.manifest.name
        self.dim = self.manifest.dim
        self.batch_size = batch_size
        self.threads = threads
        self.max_length = limit
        self._lock = threading.Lock()
        self._runner: _Runner | None = None

    def load(self) -> None:
        """Load the tokenizer and model now (blocking; idempotent)."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> _Runner:
        if self._runner is None:
            self._runner = _Runner(self.assets, self.manifest, self.max_length, self.threads)
        return self._runner

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        """Blocking form of `embed`, for scripts and worker threads."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        with self._lock:
            return self._ensure_loaded().embed(texts, self.batch_size)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, texts)

    def _unload(self) -> None:
        with self._lock:
            self._runner = None

    async def close(self) -> None:
        """Drop the loaded model; a later call loads it again."""
        await asyncio.to_thread(self._unload)

    def __repr__(self) -> str:
        return f"LocalEmbedder(model={self.model!r}, dim={self.dim}, assets={str(self.assets)!r})"
