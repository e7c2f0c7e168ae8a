"""A file publisher on loopback: fixed bodies by path, a log of the paths requested."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Publisher:
    """Base URL of the running server and the paths it was asked for, in order."""

    url: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def serve(routes: Callable[[str], dict[str, bytes]]) -> Iterator[Publisher]:
    """Serve ``routes(base_url)`` (path -> body; anything else is a 404) until exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    publisher = Publisher(f"http://127.0.0.1:{server.server_address[1]}")
    bodies = routes(publisher.url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            publisher.requests.append(self.path)
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield publisher
    finally:
        server.shutdown()
        server.server_close()
