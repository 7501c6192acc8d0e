"""The embedder interface: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]


def __getattr__(name: str) -> Any:
    # numpy loads with the model (first use), not with every module that names the type.
    if name == "Vectors":
        import numpy as np
        import numpy.typing as npt

        return npt.NDArray[np.float32]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Embedder(ABC):
    """Turns texts into unit-length vectors of a fixed dimension.

    `model` is recorded with every stored embedding so that a change of model
    can be detected and re-embedded (`almanac memory reindex`).
    """

    model: str
    dim: int

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed documents; returns an array of shape (len(texts), dim)."""

    async def embed_query(self, text: str) -> Vectors:
        """Embed one search query; returns an array of shape (dim,)."""
        vectors = await self.embed([text])
        first: Vectors = vectors[0]
        return first

    async def late_interaction(self, query: str, texts: Sequence[str]) -> list[float] | None:
        """How well each text covers the query's tokens (MaxSim), or None when this
        embedder has no token vectors to compare."""
        return None

    async def check(self) -> None:
        """Raise if the embedder cannot serve requests (used by /health)."""
        await self.embed(["health check"])

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, sessions)."""
