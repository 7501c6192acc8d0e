"""An embedder for any OpenAI-compatible `POST /v1/embeddings` API (OpenAI, vLLM, llama.cpp,
Ollama, TEI, LiteLLM, ...), through the official `openai` SDK.

Vectors are L2-normalised here whatever the server returns, requests are cut into batches of
`batch_size` inputs, and the output keeps the order of the input (the response's `index` is
used, not the order of its `data` list).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
import openai
from openai import AsyncOpenAI

from almanac.embedder.base import Embedder, Vectors
from almanac.errors import DependencyUnavailable

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Servers without authentication still need a non-empty key for the SDK to send a request.
NO_API_KEY = "not-needed"


class EmbeddingServiceError(DependencyUnavailable, title="Embedding service unavailable"):
    """The embeddings API failed or answered with something unusable."""


class OpenAIEmbedder(Embedder):
    """Embeds through an OpenAI-compatible API.

    Either pass a ready `client` (owned by the caller, not closed here) or `base_url`/
    `api_key`/`timeout` to have one made (closed by `close()`). Nothing is read from the
    environment: a missing `base_url` means OpenAI's own API, a missing key a dummy one.

    `model` (the attribute recorded with stored vectors) is `openai:<api model>:<dim>`.
    With `request_dimensions=True` the `dimensions` parameter is sent (text-embedding-3 and
    other Matryoshka models); otherwise the server's native size must equal `dim`.

    `timeout` bounds a whole request, retries included (the SDK's is per attempt: a silent
    server held a call three times over, and the caller's database connection with it);
    for one `timeout` after a server did not answer or could not be reached, calls fail at
    once rather than each waiting it out again.
    """

    def __init__(
        self,
        *,
        model: str,
        dim: int,
        client: AsyncOpenAI | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        batch_size: int = 64,
        request_dimensions: bool = False,
    ) -> None:
        if not model:
            raise ValueError("model is required")
        if dim < 1:
            raise ValueError("dim must be >= 1")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if client is not None and (base_url is not None or api_key is not None):
            raise ValueError("pass either client or base_url/api_key, not both")
        self.api_model = model
        self.model = f"openai:{model}:{dim}"
        self.dim = dim
        self.batch_size = batch_size
        self.request_dimensions = request_dimensions
        self._owns_client = client is None
        self.timeout = timeout
        # (monotonic time, why) of the last call the server left unanswered.
        self._silent: tuple[float, str] | None = None
        self.client = client or AsyncOpenAI(
            base_url=base_url or DEFAULT_BASE_URL,
            api_key=api_key or NO_API_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = await self._embed_batch(batch)
        return out

    async def _embed_batch(self, batch: list[str]) -> Vectors:
        # The API rejects empty strings; a single space embeds as "nothing".
        inputs = [t if t.strip() else " " for t in batch]
        self._not_paused()
        try:
            async with asyncio.timeout(self.timeout):
                if self.request_dimensions:
                    response = await self.client.embeddings.create(
                        model=self.api_model, input=inputs, dimensions=self.dim
                    )
                else:
                    response = await self.client.embeddings.create(
                        model=self.api_model, input=inputs
                    )
        except TimeoutError as exc:
            raise self._unanswered(f"did not answer within {self.timeout:g} s") from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise self._unanswered(f"failed: {exc}") from exc
        except openai.APIError as exc:
            raise EmbeddingServiceError(f"embeddings request failed: {exc}") from exc
        self._silent = None

        indices = sorted(item.index for item in response.data)
        if indices != list(range(len(inputs))):
            raise EmbeddingServiceError(
                f"embeddings response has indices {indices[:10]}..., expected 0..{len(inputs) - 1}"
            )
        rows = sorted(response.data, key=lambda item: item.index)
        try:
            vectors = np.asarray([item.embedding for item in rows], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingServiceError(f"malformed embedding in response: {exc}") from exc
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            got = vectors.shape[1] if vectors.ndim == 2 else vectors.shape
            raise EmbeddingServiceError(
                f"model {self.api_model!r} returned vectors of size {got}, configured dim "
                f"is {self.dim}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise EmbeddingServiceError("embeddings response holds a zero or non-finite vector")
        normalised: Vectors = (vectors / norms).astype(np.float32, copy=False)
        return normalised

    def _retry_after(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(self.timeout)))}

    def _unanswered(self, why: str) -> EmbeddingServiceError:
        self._silent = (time.monotonic(), why)
        return EmbeddingServiceError(f"embeddings request {why}", headers=self._retry_after())

    def _not_paused(self) -> None:
        """Fail at once within one timeout of a call the server left unanswered."""
        if self._silent is None:
            return
        ago = time.monotonic() - self._silent[0]
        if ago < self.timeout:
            raise EmbeddingServiceError(
                f"embeddings request {self._silent[1]} {ago:.1f} s ago; not asked again yet",
                headers=self._retry_after(),
            )

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model!r}, base_url={str(self.client.base_url)!r})"
