"""Embedders: text in, unit-length float32 vectors out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from almanac.embedder.base import Embedder
from almanac.embedder.factory import build_embedder
from almanac.embedder.local import LocalEmbedder

if TYPE_CHECKING:
    from almanac.embedder.base import Vectors
    from almanac.embedder.openai_compat import OpenAIEmbedder


def __getattr__(name: str) -> Any:
    # The openai SDK is heavy; load it only for those who use the OpenAI-compatible provider.
    if name == "OpenAIEmbedder":
        from almanac.embedder.openai_compat import OpenAIEmbedder

        return OpenAIEmbedder
    if name == "Vectors":  # numpy: with the model, on first use
        from almanac.embedder import base

        return base.Vectors
    raise AttributeError(name)


__all__ = ["Embedder", "LocalEmbedder", "OpenAIEmbedder", "Vectors", "build_embedder"]
