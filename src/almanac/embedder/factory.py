"""Choose the embedder from settings."""

from __future__ import annotations

from typing import assert_never

from almanac.config import EmbedderSettings, LocalEmbedderSettings, OpenAIEmbedderSettings
from almanac.embedder.base import Embedder


def build_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings describe.

    `local` loads the packaged model lazily (first use); `openai` has its `model` and `dim`
    (the vector size is fixed before the first request, for the database's index), checked
    when the settings were read.
    """
    # Vendor modules are imported on demand: the openai SDK alone costs ~25 MB of RSS.
    match settings:
        case LocalEmbedderSettings():
            from almanac.embedder.local import LocalEmbedder

            return LocalEmbedder(batch_size=settings.batch_size, threads=settings.threads)
        case OpenAIEmbedderSettings():
            from almanac.embedder.openai_compat import OpenAIEmbedder

            return OpenAIEmbedder(
                model=settings.model,
                dim=settings.dim,
                base_url=settings.base_url,
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                timeout=settings.timeout_seconds,
                batch_size=settings.batch_size,
            )
        case _:
            assert_never(settings)
