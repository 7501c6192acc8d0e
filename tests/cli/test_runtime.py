"""The CLI's API client (`cli/runtime.py`): an answer that is no JSON is said, not raised."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from almanac.cli.main import app

runner = CliRunner()


class _NotTheApi(BaseHTTPRequestHandler):
    """A server that answers every request with a redirect and no body, or an HTML page."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/auth/keys"):
            self.send_response(307)
            self.send_header("location", "http://127.0.0.1:1/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        page = b"<html><head><title>Sign in to the proxy</title></head><body>x</body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


@pytest.fixture
def not_the_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotTheApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_answer_that_is_no_json_is_one_line_not_a_traceback(not_the_api: str) -> None:
    """A 2xx or 3xx answer without JSON was a JSONDecodeError traceback."""
    result = runner.invoke(app, ["keys", "list", "--url", not_the_api])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "answered HTTP 307 (to http://127.0.0.1:1/elsewhere) without the API's JSON" in (
        result.output
    )
    result = runner.invoke(app, ["tasks", "--url", not_the_api])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "HTML page titled 'Sign in to the proxy'" in result.output, result.output


def test_an_invalid_key_says_where_it_came_from_and_how_to_make_another(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the data folder's key revoked, every command said only "the API key is not
    valid": not which key was sent, nor how to get in again (an outside fuzzer revoked it)."""
    import httpx

    from almanac.cli.runtime import answer
    from almanac.errors import AlmanacError

    problem = {"title": "Unauthorized", "status": 401}
    problem["detail"] = "the API key is not valid (unknown, mistyped or revoked)"
    refused = httpx.Response(401, json=problem)
    monkeypatch.delenv("ALMANAC_API_KEY", raising=False)
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(tmp_path))
    (tmp_path / "api-key").write_text("alm_revoked")
    with pytest.raises(AlmanacError) as exc:
        answer(refused)
    assert str(tmp_path / "api-key") in exc.value.message
    assert "almanac keys create" in exc.value.message
    monkeypatch.setenv("ALMANAC_API_KEY", "alm_other")
    with pytest.raises(AlmanacError) as exc:
        answer(refused)
    assert "ALMANAC_API_KEY" in exc.value.message and "api-key" not in exc.value.message
