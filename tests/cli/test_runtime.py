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
