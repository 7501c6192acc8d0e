"""LocalEmbedder with the packaged model (and the int8 ONNX one when its assets are present)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from almanac.embedder import LocalEmbedder
from almanac.embedder.local import DEFAULT_ASSETS, EmbedderAssetError

ASSETS_ROOT = DEFAULT_ASSETS.parent
ONNX_INT8 = ASSETS_ROOT / "minilm-l6-int8"
FOLDERS = [DEFAULT_ASSETS] + ([ONNX_INT8] if (ONNX_INT8 / "manifest.json").exists() else [])

TEXTS = [
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Melanie: We took the kids camping at the beach last summer [image: a tent on the sand]",
    "What did Melanie paint recently?",
    "ok",
    "The meeting with the landlord about the broken heating is on Thursday at 10am.",
]


@pytest.fixture(scope="module", params=FOLDERS, ids=lambda p: p.name)
def emb(request: pytest.FixtureRequest) -> LocalEmbedder:
    return LocalEmbedder(request.param, batch_size=2)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_default_is_the_packaged_model() -> None:
    emb = LocalEmbedder()
    manifest = json.loads((DEFAULT_ASSETS / "manifest.json").read_text())
    assert emb.model == manifest["name"] == "almanac/minilm-l6-m2v384@1"
    assert emb.dim == manifest["dim"] == 384
    assert emb.max_length == manifest["max_length"] == 256
    size = sum(p.stat().st_size for p in DEFAULT_ASSETS.iterdir())
    assert size <= 25 * 1024 * 1024


async def test_shape_dtype_and_unit_norm(emb: LocalEmbedder) -> None:
    out = await emb.embed(TEXTS)
    assert out.shape == (len(TEXTS), emb.dim)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Different texts give different vectors.
    assert len({v.tobytes() for v in out}) == len(TEXTS)


async def test_deterministic_across_calls_and_instances(emb: LocalEmbedder) -> None:
    first = await emb.embed(TEXTS)
    second = await emb.embed(TEXTS)
    other = await LocalEmbedder(emb.assets, batch_size=64).embed(TEXTS)
    np.testing.assert_array_equal(first, second)
    if emb.manifest.format == "static":
        np.testing.assert_allclose(first, other, atol=1e-6)
    else:
        # Dynamic int8 quantises activations per batch, so batch neighbours shift a vector
        # (measured: cosine down to ~0.955 between batch sizes 2 and 64).
        assert min(cos(a, b) for a, b in zip(first, other, strict=True)) > 0.93


async def test_batch_and_single_agree_and_keep_input_order(emb: LocalEmbedder) -> None:
    batch = await emb.embed(TEXTS)  # batch_size=2 and sorted by length inside
    singles = np.stack([await emb.embed_query(t) for t in TEXTS])
    assert singles.shape == (len(TEXTS), emb.dim)
    if emb.manifest.format == "static":
        np.testing.assert_allclose(batch, singles, atol=1e-6)
    else:
        sims = [cos(a, b) for a, b in zip(batch, singles, strict=True)]
        assert min(sims) > 0.93, sims  # see the note on int8 above
    # Row i is text i: each row is closest to its own single embedding.
    assert list(np.argmax(batch @ singles.T, axis=1)) == list(range(len(TEXTS)))


@pytest.mark.parametrize(
    ("anchor", "paraphrase", "unrelated"),
    [
        (
            "I adopted a puppy last week.",
            "Last week I got a new dog.",
            "The quarterly tax report is due on Friday.",
        ),
        (
            "My sister is getting married in June.",
            "My sister's wedding is in June.",
            "The server crashed because the disk was full.",
        ),
        (
            "Where can I buy fresh vegetables?",
            "Which shop sells fresh vegetables?",
            "She plays the violin in an orchestra.",
        ),
    ],
)
async def test_paraphrase_is_closer_than_unrelated(
    emb: LocalEmbedder, anchor: str, paraphrase: str, unrelated: str
) -> None:
    a, p, u = await emb.embed([anchor, paraphrase, unrelated])
    assert float(a @ p) > float(a @ u) + 0.05


async def test_empty_and_odd_inputs_still_give_unit_vectors(emb: LocalEmbedder) -> None:
    out = await emb.embed(["", "   ", "🙂🙂", "\x00", "ok"])
    assert out.shape == (5, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(out))


async def test_very_long_input_is_truncated(emb: LocalEmbedder) -> None:
    head = " ".join(f"word{i % 50} apple banana" for i in range(100))  # ~400 tokens
    long_a = head + " " + "zebra " * 5000
    long_b = head + " " + "quantum chromodynamics " * 5000
    out = await emb.embed([long_a, long_b, "a short one"])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Both tails lie past the token limit, so only the shared head counts.
    assert cos(out[0], out[1]) > 0.9999
    # And the tail matters when the limit is raised past the head.
    wide = LocalEmbedder(emb.assets, max_length=512 if emb.manifest.format == "onnx" else 8000)
    a, b = await wide.embed([long_a, long_b])
    assert cos(a, b) < 0.999


async def test_empty_list_and_string_argument(emb: LocalEmbedder) -> None:
    none = await emb.embed([])
    assert none.shape == (0, emb.dim) and none.dtype == np.float32
    with pytest.raises(TypeError):
        await emb.embed("a single string")  # a str is a Sequence[str]: refused at run time


async def test_concurrent_calls_match_sequential_and_run_off_the_loop(
    emb: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    sequential = [await emb.embed([t]) for t in TEXTS]
    threads: set[int] = set()
    real = LocalEmbedder.embed_sync

    def spy(self: LocalEmbedder, texts: list[str]) -> np.ndarray:
        threads.add(threading.get_ident())
        return real(self, texts)

    monkeypatch.setattr(LocalEmbedder, "embed_sync", spy)
    concurrent = await asyncio.gather(*(emb.embed([t]) for t in TEXTS))
    for got, want in zip(concurrent, sequential, strict=True):
        np.testing.assert_array_equal(got, want)
    assert threads and threading.get_ident() not in threads


async def test_check_and_close_then_reload(emb: LocalEmbedder) -> None:
    await emb.check()
    before = await emb.embed_query("hello there")
    await emb.close()
    after = await emb.embed_query("hello there")  # loads again
    np.testing.assert_array_equal(before, after)


def test_missing_or_tampered_assets_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(EmbedderAssetError, match="manifest"):
        LocalEmbedder(tmp_path / "nowhere")

    copy = tmp_path / "copy"
    shutil.copytree(DEFAULT_ASSETS, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["model_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    emb = LocalEmbedder(copy)  # the manifest reads fine; the model is checked on load
    with pytest.raises(EmbedderAssetError, match="sha256"):
        emb.load()

    (copy / "tokenizer.json").unlink()
    with pytest.raises(EmbedderAssetError, match="tokenizer.json"):
        LocalEmbedder(copy)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        LocalEmbedder(batch_size=0)
    with pytest.raises(ValueError):
        LocalEmbedder(threads=-1)
    with pytest.raises(ValueError):
        LocalEmbedder(max_length=0)


def _table_rss_kb(path: Path) -> int | None:
    """Resident kB of this process's mappings of `path` (None off Linux)."""
    smaps = Path("/proc/self/smaps")
    if not smaps.exists():
        return None
    total, current = 0, None
    for line in smaps.read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            current = parts[5] if len(parts) > 5 else None
        elif parts and parts[0] == "Rss:" and current == str(path):
            total += int(parts[1])
    return total


async def test_static_vectors_are_the_mean_of_their_token_rows() -> None:
    # The reference reads the whole table into memory and pools by hand; the embedder
    # reads only the rows it needs, so both must give the same numbers.
    from tokenizers import Tokenizer

    manifest = json.loads((DEFAULT_ASSETS / "manifest.json").read_text())
    table = np.load(DEFAULT_ASSETS / manifest["model_file"]).astype(np.float32)
    tok = Tokenizer.from_file(
        str(DEFAULT_ASSETS / manifest.get("tokenizer_file", "tokenizer.json"))
    )
    tok.no_padding()
    texts = [*TEXTS, "Priya reviewed the invoice for Acme; note 48213", "zz 9 ✓ über"]
    special = manifest.get("add_special_tokens", True)
    unk = manifest.get("unk_id")
    out = await LocalEmbedder(batch_size=3).embed(texts)
    for text, got in zip(texts, out, strict=True):
        ids = [t for t in tok.encode(text, add_special_tokens=special).ids if t != unk]
        pooled = table[ids].mean(axis=0)
        np.testing.assert_allclose(got, pooled / np.linalg.norm(pooled), atol=1e-5)


async def test_embedding_keeps_no_part_of_the_token_table_resident() -> None:
    # A memory-mapped table stayed resident after use (the kernel maps a fault's
    # neighbours too): 600 scattered tokens made ~18 of its 22 MB part of the RSS.
    emb = LocalEmbedder()
    texts = [f"note {n} about client {n * 7919 % 100003} and item {n**2}" for n in range(400)]
    await emb.embed(texts)
    resident = _table_rss_kb(emb.assets / emb.manifest.model_file)
    if resident is None:
        pytest.skip("needs /proc/self/smaps (Linux)")
    assert resident == 0


async def test_late_interaction_scores_token_overlap_in_meaning(emb: LocalEmbedder) -> None:
    texts = [
        "We painted a sunset over the lake together",
        "The invoice for the retainer is overdue",
        "",
    ]
    scores = await emb.late_interaction("what did they paint?", texts)
    assert scores is not None and len(scores) == 3
    assert scores[0] > scores[1] > scores[2] == 0.0
    # A text holding every query token scores 1; the cached token ids give the same answer.
    assert abs((await emb.late_interaction("sunset lake", texts))[0] - 1.0) < 1e-3
    assert await emb.late_interaction("what did they paint?", texts) == scores
    assert await emb.late_interaction("anything", []) == []
