"""uvicorn's httptools protocol with the limits a public HTTP server needs, for ``qpv serve``.

uvicorn bounds neither the request target nor the header block on its default (httptools)
parser, never closes a connection that sends an incomplete request head, and answers bad
requests in plain text. Here: the request target is bounded (414), the header block too
(431, ``h11_max_incomplete_event_size``, as uvicorn's h11 parser does), the head must arrive
within ``timeout_keep_alive`` seconds, and every refusal (503 past ``limit_concurrency``
too) is a problem+json body.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("uvicorn.error")

# nginx's large_client_header_buffers default is 8 KiB per line: the same bound here.
MAX_TARGET_BYTES = 8192
# uvicorn's h11 default for h11_max_incomplete_event_size (the whole head).
DEFAULT_MAX_HEAD_BYTES = 16384
_NOT_HTTP = (
    "the request is not valid HTTP/1.1 (an unknown method, bytes outside ASCII in the target, "
    "a malformed head)"
)
_TITLES = {
    400: "Bad request",
    414: "URI too long",
    431: "Request header fields too large",
    503: "Service unavailable",
}


class _Refused(Exception):
    """Raised inside a parser callback; the parser turns it into an error for data_received."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with bounded request heads, a head timeout and problem+json 4xx."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEAD_BYTES
        self._head_bytes = 0
        self._refusal: tuple[int, str] | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Serve the connection; its first request head must come in time."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the timer with the connection."""
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A new request: count its head from zero; time it if the connection was idle."""
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        """Part of the request target: refused past MAX_TARGET_BYTES."""
        if len(self.url) + len(url) > MAX_TARGET_BYTES:
            self._refuse(414, f"the request target is longer than {MAX_TARGET_BYTES} bytes")
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header field: the whole head is refused past the limit."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is in: no more head timeout; a target that is not ASCII is a 400; past
        the concurrency limit a 503 problem (uvicorn's own is plain text)."""
        self._disarm_head_timer()
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            self._refuse(503, "the server is at its connection limit: retry shortly")
        try:
            super().on_headers_complete()
        except UnicodeDecodeError:
            self._refuse(400, "the request target must be ASCII (percent-encode other bytes)")

    def send_400_response(self, msg: str) -> None:
        """Answer a request the parser refused with a problem+json body, then close."""
        status, detail = self._refusal or (400, _NOT_HTTP)
        self._refusal = None
        body = orjson.dumps(
            {
                "type": f"https://qpv.example.org/problems/{_TITLES[status].lower()}".replace(
                    " ", "-"
                ),
                "title": _TITLES[status],
                "status": status,
                "detail": detail,
            }
        )
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._max_head:
            self._refuse(431, f"the request head is larger than {self._max_head} bytes")

    def _refuse(self, status: int, detail: str) -> None:
        log.warning("request refused: %d %s", status, _TITLES[status])
        self._refusal = (status, detail)
        raise _Refused(detail)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.timeout_keep_alive, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        # No complete request head in time (an idle or trickling client): free the slot.
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
