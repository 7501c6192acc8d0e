"""Choose the embedder from settings."""

from __future__ import annotations

from almanac.config import EmbedderSettings
from almanac.embedder.base import Embedder
from almanac.errors import ValidationFailed


def build_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder that `settings.provider` names, configured from `settings`.

    `local` loads the packaged model lazily (first use); `openai` needs `model` and `dim`
    (the vector size is fixed before the first request, for the database's index).
    """
    # Vendor modules are imported on demand: the openai SDK alone costs ~25 MB of RSS.
    match settings.provider:
        case "local":
            from almanac.embedder.local import LocalEmbedder

            return LocalEmbedder(batch_size=settings.batch_size, threads=settings.threads)
        case "openai":
            if not settings.model:
                raise ValidationFailed(
                    "embedder.model is required for the openai provider", field="embedder.model"
                )
            if settings.dim is None:
                raise ValidationFailed(
                    "embedder.dim is required for the openai provider", field="embedder.dim"
                )
            from almanac.embedder.openai_compat import OpenAIEmbedder

            return OpenAIEmbedder(
                model=settings.model,
                dim=settings.dim,
                base_url=settings.base_url,
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                timeout=settings.timeout_seconds,
                batch_size=settings.batch_size,
            )
        case other:
            raise ValidationFailed(
                f"unknown embedder provider {other!r}", field="embedder.provider"
            )
