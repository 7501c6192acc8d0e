"""Security headers on every response, as one pure ASGI middleware (outermost).

The dashboard's pages set their own Content-Security-Policy (`routes.PAGE_CSP`). Every other
response gets `nosniff`, no framing and a same-origin referrer; a response that is not HTML
(JSON, problems, assets, the .ics feed) also gets a CSP that lets nothing run, so an API
answer opened as a document cannot execute what a caller stored in it. Other HTML (the
OpenAPI docs load their viewer from a CDN) keeps its own and is only kept out of frames.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
INERT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox"
FRAMES_ONLY_CSP = b"frame-ancestors 'none'"
CSP = b"content-security-policy"


def with_security_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers plus the defaults it does not set itself."""
    present = {name.lower() for name, _ in raw}
    out = list(raw)
    out.extend(h for h in ALWAYS if h[0] not in present)
    if CSP not in present:
        media = next((v for n, v in raw if n.lower() == b"content-type"), b"")
        out.append((CSP, FRAMES_ONLY_CSP if media.lower().startswith(b"text/html") else INERT_CSP))
    return out


class SecurityHeaders:
    """Adds `with_security_headers` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_security_headers(list(message["headers"]))}
            await send(message)

        await self.app(scope, receive, send_with_headers)
