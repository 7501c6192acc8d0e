"""TEST DOUBLE: a stand-in for an OpenAI-compatible `POST /v1/embeddings` server.

Not a model: it returns deterministic pseudo-random vectors derived from a hash of each
input, deliberately NOT unit length, so that tests can check the client's normalisation,
batching and ordering against `FakeEmbeddingsServer.expected()`. It listens on 127.0.0.1
(an ephemeral port) in a background thread, speaks the JSON shapes of the real API
(`float` and `base64` encodings, `dimensions`, `index`, `usage`, error objects) and records
every request it receives.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.doubles.loopback import JSONHandler, Loopback


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeEmbeddingsServer:
    """Start with `start()` (or as a context manager); `base_url` ends in `/v1`."""

    dim: int = 16
    api_key: str | None = None  # when set, `Authorization: Bearer <key>` is required
    models: tuple[str, ...] = ("fake-embed",)
    reverse_order: bool = False  # list `data` last-first (indices stay correct)
    ignore_encoding_format: bool = False  # always answer with float lists
    fail_status: int | None = None  # answer every request with this HTTP error
    delay_seconds: float = 0.0  # sit this long on every request before answering (silent)
    requests: list[RecordedRequest] = field(default_factory=list)
    _loopback: Loopback | None = None

    @staticmethod
    def raw_vector(text: str, dim: int) -> np.ndarray:
        """The un-normalised vector served for `text` (norm between 2 and 10)."""
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        vec = rng.standard_normal(dim)
        scale = 2.0 + (seed % 800) / 100.0
        return (vec / np.linalg.norm(vec) * scale).astype(np.float32)

    def expected(self, text: str, dim: int | None = None) -> np.ndarray:
        """What a correct client should return for `text`: the served vector, unit length."""
        vec = self.raw_vector(text, dim or self.dim).astype(np.float64)
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    @property
    def base_url(self) -> str:
        assert self._loopback is not None, "server not started"
        return self._loopback.base_url

    def start(self) -> FakeEmbeddingsServer:
        double = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._error(400, "body is not JSON")
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                double.requests.append(RecordedRequest(self.path, headers, body))
                if double.delay_seconds:
                    time.sleep(double.delay_seconds)
                if self.path.rstrip("/") != "/v1/embeddings":
                    self._error(404, f"no route {self.path}")
                    return
                if double.fail_status is not None:
                    self._error(double.fail_status, "injected failure", "server_error")
                    return
                if double.api_key is not None:
                    if self.headers.get("Authorization") != f"Bearer {double.api_key}":
                        self._error(401, "Incorrect API key provided", "invalid_api_key")
                        return
                model = body.get("model")
                if model not in double.models:
                    self._error(404, f"The model `{model}` does not exist", "model_not_found")
                    return
                inputs = body.get("input")
                if isinstance(inputs, str):
                    inputs = [inputs]
                if not isinstance(inputs, list) or not inputs:
                    self._error(400, "input must be a non-empty string or array")
                    return
                if any(not isinstance(t, str) or t == "" for t in inputs):
                    self._error(400, "'$.input' is invalid: empty strings are not allowed")
                    return
                dim = int(body.get("dimensions") or double.dim)
                fmt = body.get("encoding_format") or "float"
                data = []
                for i, text in enumerate(inputs):
                    vec = double.raw_vector(text, dim)
                    if fmt == "base64" and not double.ignore_encoding_format:
                        emb: Any = base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii")
                    else:
                        emb = [float(x) for x in vec]
                    data.append({"object": "embedding", "index": i, "embedding": emb})
                if double.reverse_order:
                    data.reverse()
                tokens = sum(len(t.split()) for t in inputs)
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": model,
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                    },
                )

        self._loopback = Loopback(Handler, "fake-openai-embeddings")
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    def __enter__(self) -> FakeEmbeddingsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
