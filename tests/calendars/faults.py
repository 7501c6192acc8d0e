"""A proxy in front of a real CalDAV server that fails PUTs on demand (5xx, 412) or makes
them slow, and the fixtures that put it in front of Radicale."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient

from tests.calendars.conftest import USER


class FailingProxy:
    """Forwards to `upstream`; from the `fail_put`-th PUT on (1-based, 0: never) every PUT
    answers `status` instead, so the client library's own retry cannot hide it, or only
    `fail_times` of them when that is set (a passing fault). Each PUT waits `put_delay`
    seconds first (a slow server)."""

    def __init__(self, upstream: str) -> None:
        self.fail_put = 0
        self.put_delay = 0.0
        self.status = 500
        self.fail_times = 0
        self.puts = 0
        proxy = self
        client = httpx.Client(base_url=upstream.rstrip("/"), timeout=10)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "PUT":
                    time.sleep(proxy.put_delay)
                    proxy.puts += 1
                    failed = proxy.puts - proxy.fail_put + 1
                    passed = 0 < proxy.fail_times < failed
                    if 0 < proxy.fail_put <= proxy.puts and not passed:
                        self._answer(proxy.status, {}, b"injected failure")
                        return
                skip = {"host", "content-length", "connection", "transfer-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                r = client.request(self.command, self.path, content=body, headers=headers)
                keep = {
                    k: v
                    for k, v in r.headers.items()
                    if k.lower() not in skip | {"content-encoding"}
                }
                self._answer(r.status_code, keep, r.content)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_MKCALENDAR = _forward
            do_OPTIONS = do_POST = do_PROPPATCH = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._client = client
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


@pytest.fixture
def proxy(radicale_url: str) -> Iterator[FailingProxy]:
    p = FailingProxy(radicale_url)
    yield p
    p.close()


@pytest.fixture
def radicale(radicale_url: str) -> Iterator[Any]:
    """A client of Radicale itself (past the proxy), to see what is stored."""
    client = DAVClient(url=radicale_url, username=USER, password="secret")
    yield client
    client.close()
