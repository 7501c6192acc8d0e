"""Serving a test double's request handler on 127.0.0.1, from a background thread."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JSONHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON, and OpenAI-style error objects."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    stall = 0.0  # seconds between the headers and the body (set per request)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.stall:
                self.wfile.flush()
                time.sleep(self.stall)
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer

    def _error(
        self,
        status: int,
        message: str,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": code}})


class Loopback:
    """`handler` on 127.0.0.1 at a free port until `close()`; `base_url` ends in `/v1`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # Handler threads sleeping on a scripted delay must not hold up shutdown.
        self._server.daemon_threads = True
        # A short poll interval keeps `close()` (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
