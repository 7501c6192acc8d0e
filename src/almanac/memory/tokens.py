"""Token counting with a real tokenizer that ships with Almanac (no download at run time).

The local embedder's WordPiece tokenizer (`embedder/assets/*/tokenizer.json`, MiniLM's
uncased BERT vocabulary) counts tokens for context budgets. For English prose it counts
within about 10–30% of the BPE tokenizers chat models use, on the high side, so a block
packed to N of these tokens rarely exceeds N model tokens."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent.parent / "embedder" / "assets"


class TokenCounter:
    """Counts tokens (no special tokens, no truncation)."""

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        self.name = f"wordpiece:{tokenizer_file.parent.name}"
        self._tok: Any = Tokenizer.from_file(str(tokenizer_file))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]


@lru_cache(maxsize=1)
def token_counter() -> TokenCounter:
    """The shipped tokenizer (loaded once per process)."""
    files = sorted(ASSETS.glob("*/tokenizer.json"))
    if not files:  # pragma: no cover - the wheel always ships one
        raise RuntimeError(f"no tokenizer.json under {ASSETS}")
    return TokenCounter(files[0])
