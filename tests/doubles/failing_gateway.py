"""A Memory Gateway double that knows no facts and answers every fact write with one
fixed error status (a 503 from its database, a 422 for a bad fact), problem+json,
optionally after a delay (longer than the client's timeout: a Gateway that hangs)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.doubles.loopback import JSONHandler, Loopback


class FailingGateway:
    """`GET /api/v1/memory/facts` answers `[]`; `POST` there answers `status`."""

    def __init__(self, status: int, detail: str, delay: float = 0.0) -> None:
        self.writes: list[dict[str, Any]] = []
        owner = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                self._raw(200, "application/json", [])

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                owner.writes.append(json.loads(self.rfile.read(length) or b"{}"))
                time.sleep(delay)
                body = {"title": "Gateway error", "status": status, "detail": detail}
                self._raw(status, "application/problem+json", body)

            def _raw(self, code: int, kind: str, payload: Any) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out

        self._loop = Loopback(Handler, "failing-gateway")
        self.base_url = self._loop.base_url.removesuffix("/v1")

    def close(self) -> None:
        self._loop.close()
