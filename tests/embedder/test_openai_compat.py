"""OpenAIEmbedder through the real `openai` SDK against a local HTTP double."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr, TypeAdapter, ValidationError

from almanac.config import EmbedderSettings, LocalEmbedderSettings, OpenAIEmbedderSettings
from almanac.embedder import LocalEmbedder, OpenAIEmbedder, build_embedder
from almanac.embedder.openai_compat import EmbeddingServiceError
from tests.doubles.openai_embeddings import FakeEmbeddingsServer

TEXTS = [f"memory number {i}: walked the dog at {i} o'clock" for i in range(11)]


@pytest.fixture
def server() -> Iterator[FakeEmbeddingsServer]:
    with FakeEmbeddingsServer(dim=16, api_key="sk-test") as srv:
        yield srv


def make(server: FakeEmbeddingsServer, **kw: object) -> OpenAIEmbedder:
    args: dict[str, object] = {
        "model": "fake-embed",
        "dim": server.dim,
        "base_url": server.base_url,
        "api_key": "sk-test",
        "timeout": 5.0,
        "max_retries": 0,
    }
    args.update(kw)
    return OpenAIEmbedder(**args)  # type: ignore[arg-type]


async def test_vectors_are_the_servers_normalised_in_input_order(
    server: FakeEmbeddingsServer,
) -> None:
    emb = make(server)
    try:
        out = await emb.embed(TEXTS)
    finally:
        await emb.close()
    assert out.shape == (len(TEXTS), 16)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    expected = np.stack([server.expected(t) for t in TEXTS])
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # The double serves vectors that are not unit length: normalisation was ours.
    assert not np.isclose(np.linalg.norm(server.raw_vector(TEXTS[0], 16)), 1.0)
    assert emb.model == "openai:fake-embed:16"


async def test_batches_by_batch_size_and_keeps_order_when_data_is_shuffled(
    server: FakeEmbeddingsServer,
) -> None:
    server.reverse_order = True
    emb = make(server, batch_size=4)
    out = await emb.embed(TEXTS)
    await emb.close()
    sizes = [len(r.body["input"]) for r in server.requests]
    assert sizes == [4, 4, 3]
    sent = [t for r in server.requests for t in r.body["input"]]
    assert sent == TEXTS
    np.testing.assert_allclose(out, np.stack([server.expected(t) for t in TEXTS]), atol=1e-6)


async def test_sdk_requests_base64_and_float_only_servers_work_too(
    server: FakeEmbeddingsServer,
) -> None:
    emb = make(server)
    b64 = await emb.embed(TEXTS[:3])
    assert server.requests[-1].body.get("encoding_format") == "base64"
    server.ignore_encoding_format = True  # a server that always answers with float lists
    floats = await emb.embed(TEXTS[:3])
    await emb.close()
    np.testing.assert_allclose(b64, floats, atol=1e-6)


async def test_sends_the_api_key_and_a_wrong_key_is_a_service_error(
    server: FakeEmbeddingsServer,
) -> None:
    good = make(server)
    await good.embed(["hello"])
    await good.close()
    assert server.requests[-1].headers["authorization"] == "Bearer sk-test"

    bad = make(server, api_key="sk-wrong")
    with pytest.raises(EmbeddingServiceError) as info:
        await bad.embed(["hello"])
    await bad.close()
    assert info.value.status_code == 503
    assert "401" in str(info.value) or "API key" in str(info.value)


async def test_server_errors_become_service_errors(server: FakeEmbeddingsServer) -> None:
    server.fail_status = 500
    emb = make(server, max_retries=1)
    with pytest.raises(EmbeddingServiceError):
        await emb.embed(["hello"])
    await emb.close()
    assert len(server.requests) == 2  # one retry, as configured


async def test_unreachable_server_is_a_service_error() -> None:
    srv = FakeEmbeddingsServer().start()
    url = srv.base_url
    srv.stop()
    emb = OpenAIEmbedder(model="fake-embed", dim=16, base_url=url, timeout=2.0, max_retries=0)
    with pytest.raises(EmbeddingServiceError):
        await emb.embed(["hello"])
    await emb.close()


async def test_a_silent_server_is_waited_for_once_per_timeout(
    server: FakeEmbeddingsServer,
) -> None:
    """A server that accepts and never answers held each call for the SDK's timeout per
    attempt, retries included (~92 s at the defaults), and every call waited it out again:
    each request held its pooled connection meanwhile, and twenty of them left the
    Gateway's other routes 503 "Busy". Now a call takes at most the timeout, and for one
    timeout after, calls fail at once without asking."""
    server.delay_seconds = 30
    emb = make(server, timeout=1.0, max_retries=2)
    started = time.monotonic()
    with pytest.raises(EmbeddingServiceError, match="within 1 s"):
        await emb.embed(["hello"])
    assert time.monotonic() - started < 2.5  # the SDK alone: 3 attempts + backoff, ~4.5 s
    asked = len(server.requests)
    started = time.monotonic()
    with pytest.raises(EmbeddingServiceError, match="not asked again") as info:
        await emb.embed_query("again")
    assert time.monotonic() - started < 0.5
    assert len(server.requests) == asked
    assert info.value.headers == {"Retry-After": "1"}
    await emb.close()


async def test_after_the_pause_the_server_is_asked_again(server: FakeEmbeddingsServer) -> None:
    server.delay_seconds = 30
    emb = make(server, timeout=0.3)
    with pytest.raises(EmbeddingServiceError):
        await emb.embed(["hello"])
    server.delay_seconds = 0
    await asyncio.sleep(0.4)
    vec = await emb.embed(["hello"])
    np.testing.assert_allclose(vec[0], server.expected("hello"), rtol=1e-5)
    # An error the server answered (not silence) does not pause the next call.
    server.fail_status = 500
    with pytest.raises(EmbeddingServiceError, match="500"):
        await emb.embed(["hello"])
    server.fail_status = None
    assert (await emb.embed(["hello"])).shape == (1, server.dim)
    await emb.close()


async def test_wrong_dimension_is_reported(server: FakeEmbeddingsServer) -> None:
    emb = make(server, dim=8)
    with pytest.raises(EmbeddingServiceError, match="size 16"):
        await emb.embed(["hello"])
    await emb.close()


async def test_request_dimensions_sends_the_parameter(server: FakeEmbeddingsServer) -> None:
    emb = make(server, dim=8, request_dimensions=True)
    out = await emb.embed(["hello", "world"])
    await emb.close()
    assert server.requests[-1].body["dimensions"] == 8
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out[1], server.expected("world", dim=8), atol=1e-6)


async def test_empty_strings_are_sent_as_a_space(server: FakeEmbeddingsServer) -> None:
    emb = make(server)
    out = await emb.embed(["", "  ", "x"])
    await emb.close()
    assert server.requests[-1].body["input"] == [" ", " ", "x"]
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


async def test_embed_query_and_empty_input(server: FakeEmbeddingsServer) -> None:
    emb = make(server)
    q = await emb.embed_query("where did I park?")
    none = await emb.embed([])
    await emb.check()
    await emb.close()
    assert q.shape == (16,)
    np.testing.assert_allclose(q, server.expected("where did I park?"), atol=1e-6)
    assert none.shape == (0, 16)
    assert len(server.requests) == 2  # the empty call made no request


async def test_a_given_client_is_used_and_not_closed(server: FakeEmbeddingsServer) -> None:
    client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    emb = OpenAIEmbedder(model="fake-embed", dim=16, client=client)
    await emb.embed(["a"])
    await emb.close()
    assert not client.is_closed()
    await client.close()
    with pytest.raises(ValueError):
        OpenAIEmbedder(model="fake-embed", dim=16, client=client, api_key="x")


async def test_factory_builds_each_provider(server: FakeEmbeddingsServer) -> None:
    settings = OpenAIEmbedderSettings(
        model="fake-embed",
        base_url=server.base_url,
        api_key=SecretStr("sk-test"),
        dim=16,
        batch_size=5,
        timeout_seconds=5,
    )
    emb = build_embedder(settings)
    assert isinstance(emb, OpenAIEmbedder)
    out = await emb.embed(TEXTS)
    await emb.close()
    assert [len(r.body["input"]) for r in server.requests] == [5, 5, 1]
    np.testing.assert_allclose(out[-1], server.expected(TEXTS[-1]), atol=1e-6)

    local = build_embedder(LocalEmbedderSettings(batch_size=7, threads=1))
    assert isinstance(local, LocalEmbedder)
    assert (local.batch_size, local.threads) == (7, 1)


def test_incomplete_openai_settings_are_refused_when_read() -> None:
    read = TypeAdapter(EmbedderSettings).validate_python
    with pytest.raises(ValidationError, match="model"):
        read({"provider": "openai", "dim": 16})
    with pytest.raises(ValidationError, match="dim"):
        read({"provider": "openai", "model": "m"})
