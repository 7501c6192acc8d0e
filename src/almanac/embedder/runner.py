"""The loaded model (tokenizer, then an ONNX session or a token table) and its pooling.

Apart from `local` so that numpy, tokenizers and onnxruntime load with the model, on first
use, not when the server starts.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from almanac.embedder.base import Vectors
from almanac.embedder.manifest import EmbedderAssetError, Manifest

# Text is cut to this many characters per allowed token before tokenising, so a huge input
# costs little; English runs ~4-5 characters a token, so ordinary text is never affected.
_CHARS_PER_TOKEN_CAP = 32
# Words whose token ids `maxsim` keeps (~150 bytes each); the oldest go first.
_WORD_CACHE = 50_000
_WORD = re.compile(r"\w+|[^\w\s]")


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


class _TokenTable:
    """The static model's token vectors, read from the file a row at a time as needed.

    Not memory-mapped: a fault on a mapped file maps its neighbouring pages too (the
    kernel's fault-around), so the few hundred scattered tokens of one batch made most of
    the 22 MB table resident for good. Read with `pread`, a call holds only its own rows,
    and only while it runs; the page cache keeps the file warm between calls.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.fd: int | None = None
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        if mapped.ndim != 2 or mapped.shape[1] != dim:
            raise EmbedderAssetError(f"{path} has shape {mapped.shape}, not (*, dim)")
        self.rows_count = int(mapped.shape[0])
        self.dim = dim
        self.mean: npt.NDArray[np.float32] = mapped.mean(axis=0, dtype=np.float32)
        # An asset saved in another precision or order is converted and kept in memory.
        self.memory: npt.NDArray[np.float16] | None = None
        if mapped.dtype == np.float16 and mapped.flags.c_contiguous:
            self.offset = int(mapped.offset)
            self.fd = os.open(path, os.O_RDONLY)
        else:
            self.memory = np.array(mapped, dtype=np.float16, order="C")  # a copy
        del mapped  # unmaps the file: averaging it left none of it resident

    def rows(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float16]:
        """The vectors of `ids` (in that order)."""
        if self.memory is not None:
            return self.memory[ids]
        assert self.fd is not None
        size = self.dim * 2
        buffer = bytearray(len(ids) * size)
        view = memoryview(buffer)
        for pos, token in enumerate(ids.tolist()):
            if not 0 <= token < self.rows_count:
                raise EmbedderAssetError(f"token id {token} is outside the table")
            row = view[pos * size : (pos + 1) * size]
            if os.preadv(self.fd, [row], self.offset + token * size) != size:
                raise EmbedderAssetError("the token table file was cut short")
        return np.frombuffer(buffer, dtype=np.float16).reshape(len(ids), self.dim)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:
        self.close()


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
        self.table: _TokenTable | None = None
        self.fallback: npt.NDArray[np.float32] | None = None
        self._word_ids: dict[str, tuple[int, ...]] = {}
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
            # Rows are read as tokens need them, not loaded (see _TokenTable). Half
            # precision halves each read; token vectors are summed in float32 below, so
            # pooling loses nothing measurable.
            self.table = _TokenTable(model_path, manifest.dim)
            # Text with no known token at all gets the average token (still a unit vector).
            self.fallback = _l2_normalise(self.table.mean[None, :])[0]

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

    def maxsim(self, query: str, texts: Sequence[str]) -> list[float]:
        """Late interaction over the token table: for each distinct query token its best
        cosine with the text's tokens, averaged with the token's norm as its weight."""
        assert self.table is not None
        q = self._distinct_ids([query])[0]
        docs = self._distinct_ids(texts)
        if not len(q) or not any(len(d) for d in docs):
            return [0.0] * len(texts)
        qv = self.table.rows(np.asarray(q, dtype=np.int64)).astype(np.float32)
        weights = np.linalg.norm(qv, axis=1)
        qu = qv / np.maximum(weights, 1e-12)[:, None]
        vocab = np.unique(np.concatenate(docs))
        dv = self.table.rows(vocab).astype(np.float32)
        dv /= np.maximum(np.linalg.norm(dv, axis=1), 1e-12)[:, None]
        # einsum, not BLAS: a product this small is slower through OpenBLAS' thread pool,
        # badly so on a busy machine.
        sims = np.einsum("qd,td->qt", qu, dv)
        # Each text's columns, padded to the longest with a column of -inf.
        sims = np.concatenate([sims, np.full((len(q), 1), -np.inf, np.float32)], axis=1)
        width = max(len(ids) for ids in docs)
        cols = np.full((len(docs), width), len(vocab), dtype=np.int64)
        for row, ids in enumerate(docs):
            cols[row, : len(ids)] = np.searchsorted(vocab, ids)
        best = sims[:, cols].max(axis=2)  # (query tokens, texts)
        best[:, [len(ids) == 0 for ids in docs]] = 0.0
        total = float(weights.sum()) or 1.0
        return [float(x) for x in (weights @ best) / total]

    def _distinct_ids(self, texts: Sequence[str]) -> list[npt.NDArray[np.int64]]:
        """Each text's distinct token ids, tokenised a word at a time through a bounded
        cache of words: memories reuse a small vocabulary, and a whole-text pass through
        the tokenizer costs ~0.1 ms a text, the bulk of a rerank. Words split as BERT's
        pre-tokenizer does (runs of word characters, single punctuation marks); a word's
        pieces are what the tokenizer makes of it alone, so the sets match its output."""
        cap = self.max_length * _CHARS_PER_TOKEN_CAP
        words = [set(_WORD.findall(t[:cap].lower())) for t in texts]
        cache = self._word_ids
        missing = sorted({w for ws in words for w in ws if w not in cache})
        if missing:
            for word, seq in zip(missing, self.token_ids(missing), strict=True):
                cache[word] = tuple(seq)
            while len(cache) > _WORD_CACHE:
                cache.pop(next(iter(cache)))
        return [
            np.fromiter({t for w in ws for t in cache.get(w, ())}, dtype=np.int64) for ws in words
        ]

    def embed(self, texts: Sequence[str], batch_size: int) -> Vectors:
        dim = self.manifest.dim
        out = np.empty((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts)
        pad, rows = self.manifest.pad_id, None
        if self.table is not None:
            # Read each distinct token of the call once; sequences point into those rows.
            flat = np.fromiter((t for seq in ids for t in seq), dtype=np.int64)
            distinct, local = np.unique(np.append(flat, pad), return_inverse=True)
            rows = self.table.rows(distinct)
            pad, local_ids, at = int(local[-1]), local.tolist(), 0
            for n, seq in enumerate(ids):
                ids[n], at = local_ids[at : at + len(seq)], at + len(seq)
        # Longest first, so that each batch pads to a similar length.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._embed_batch([ids[i] for i in chunk], pad, rows)
        return out

    def _embed_batch(
        self, seqs: list[list[int]], pad: int, rows: npt.NDArray[np.float16] | None
    ) -> Vectors:
        width = max(1, max(len(s) for s in seqs))
        input_ids = np.full((len(seqs), width), pad, dtype=np.int64)
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
            assert rows is not None
            hidden = rows[input_ids].astype(np.float32)
        counts = maskf.sum(axis=1)
        pooled = (hidden * maskf).sum(axis=1) / np.maximum(counts, 1.0)
        vectors = _l2_normalise(pooled.astype(np.float32, copy=False))
        if self.fallback is not None:
            empty = counts[:, 0] == 0
            if empty.any():
                vectors[empty] = self.fallback
        return vectors
