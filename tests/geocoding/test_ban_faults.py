"""The ``ban`` geocoder against a misbehaving BAN server: retries, caps, bounded failures.

A real HTTP server on loopback (``http.server`` in a thread) plays a scripted part per
request: 429 with Retry-After, 5xx, hangs, trickles, malformed or mis-shaped JSON, closed
connections, a /search/csv that reorders rows. Elapsed-time upper bounds are loose hang
guards; lower bounds check that the advertised delays are honoured.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

from app.geocoding.ban import BanGeocoder, parse_retry_after
from app.geocoding.base import (
    AddressQuery,
    GeocodeErrorKind,
    Geocoder,
    GeocodeResult,
    MatchType,
)
from app.settings import Settings

T = TypeVar("T")


# ----------------------------------------------------------------------------- the server


@dataclass
class Seen:
    """One request as the server saw it."""

    t: float
    method: str
    path: str
    params: dict[str, list[str]]
    form: dict[str, list[str]] = field(default_factory=dict)
    csv_rows: list[dict[str, str]] | None = None
    server: FaultServer | None = field(default=None, repr=False)

    @property
    def q(self) -> str:
        return self.params.get("q", [""])[0]


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Hang:
    seconds: float


@dataclass
class Close:
    """Close the connection without answering."""


@dataclass
class Trickle:
    """Promise a body, then send it one byte at a time, slowly."""

    interval: float
    size: int = 200


@dataclass
class Endless:
    """A 200 whose body (no Content-Length) streams ``total`` bytes, then the connection ends."""

    total: int
    chunk: int = 1 << 16


Action = Reply | Hang | Close | Trickle | Endless
Behaviour = Callable[[Seen, int], Action]


def feature(q: str, *, score: float = 0.9, type_: str = "housenumber") -> dict[str, Any]:
    """A well-formed BAN feature whose label echoes the query."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [2.48, 48.9]},
        "properties": {
            "label": f"label:{q}",
            "score": score,
            "type": type_,
            "housenumber": "1",
            "name": "1 Rue Test",
            "street": "Rue Test",
            "postcode": "93140",
            "citycode": "93010",
            "city": "Bondy",
            "id": "93010_test_00001",
        },
    }


def ok(seen: Seen) -> Reply:
    """A valid /search answer for the request."""
    return Reply(body={"type": "FeatureCollection", "features": [feature(seen.q)]})


def csv_ok(seen: Seen, *, reverse: bool = False, drop: int = 0) -> Reply:
    """A valid /search/csv answer (optionally with rows reordered or missing)."""
    assert seen.csv_rows is not None
    rows = list(seen.csv_rows)
    if reverse:
        rows.reverse()
    rows = rows[drop:]
    columns = seen.form.get("columns", [])
    out = io.StringIO()
    header = [*(seen.csv_rows[0].keys() if seen.csv_rows else [])]
    header += ["latitude", "longitude", "result_label", "result_score", "result_type"]
    header += ["result_id", "result_housenumber", "result_name", "result_postcode"]
    header += ["result_city", "result_citycode"]
    writer = csv.DictWriter(out, header)
    writer.writeheader()
    for row in rows:
        q = " ".join(row[c] for c in columns)
        writer.writerow(
            {
                **row,
                "latitude": "48.9",
                "longitude": "2.48",
                "result_label": f"label:{q}",
                "result_score": "0.9",
                "result_type": "housenumber",
                "result_id": "93010_test_00001",
                "result_housenumber": "1",
                "result_name": "Rue Test",
                "result_postcode": "93140",
                "result_city": "Bondy",
                "result_citycode": "93010",
            }
        )
    return Reply(body=out.getvalue().encode("utf-8-sig"), headers={"Content-Type": "text/csv"})


class FaultServer(ThreadingHTTPServer):
    """A loopback HTTP server whose every answer is chosen by ``behaviour``."""

    daemon_threads = True

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        # Set at teardown so that hanging handlers stop at once.
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def times(self, path: str | None = None) -> list[float]:
        return [s.t for s in self.seen if path is None or s.path == path]


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer
    _counted: bool = False  # this request is counted in server.in_flight

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        seen = Seen(time.monotonic(), self.command, url.path, parse_qs(url.query))
        seen.server = self.server
        if self.command == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            _parse_form(seen, self.headers.get("Content-Type", ""), body)
        server = self.server
        with server.lock:
            index = len(server.seen)
            server.seen.append(seen)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        self._counted = True
        try:
            self._act(server.behaviour(seen, index))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first, as it should on a hang
        finally:
            self._uncount()

    def _uncount(self) -> None:
        # Called before a reply is written: once the client has the reply it may send its
        # next request, which must not find this one still counted as in flight.
        if self._counted:
            self._counted = False
            with self.server.lock:
                self.server.in_flight -= 1

    def _act(self, action: Action) -> None:
        if isinstance(action, Hang):
            self.server.release.wait(action.seconds)
            return
        if isinstance(action, Close):
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if isinstance(action, Endless):
            self._uncount()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.close_connection = True
            for _ in range(action.total // action.chunk):
                if self.server.release.is_set():
                    return
                self.wfile.write(b" " * action.chunk)
            return
        if isinstance(action, Trickle):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(action.size))
            self.end_headers()
            for _ in range(action.size):
                if self.server.release.wait(action.interval):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()
            return
        if action.delay:
            self.server.release.wait(action.delay)
        body = action.body
        headers = dict(action.headers)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        self._uncount()
        self.send_response(action.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _parse_form(seen: Seen, content_type: str, body: bytes) -> None:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        if name == "data":
            seen.csv_rows = list(csv.DictReader(io.StringIO(payload.decode("utf-8"))))
        else:
            seen.form.setdefault(name, []).append(payload.decode("utf-8"))


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], FaultServer]]:
    """Start fault servers for a test; stop them (and release their hangs) afterwards."""
    servers: list[tuple[FaultServer, threading.Thread]] = []

    def start(behaviour: Behaviour) -> FaultServer:
        server = FaultServer(behaviour)
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------- helpers

FAST = {"backoff_base": 0.05, "backoff_max": 0.2}
Q = AddressQuery(q="1 rue Test 93140 Bondy")


def run(url: str, body: Callable[[BanGeocoder], Awaitable[T]], **kwargs: Any) -> tuple[T, float]:
    """Run ``body`` with a fresh geocoder in a fresh loop; return its value and duration."""

    async def main() -> T:
        async with BanGeocoder(url, **{"timeout": 1.0, "retries": 2, **FAST, **kwargs}) as g:
            return await body(g)

    start = time.monotonic()
    value = asyncio.run(main())
    return value, time.monotonic() - start


def geocode(url: str, query: AddressQuery = Q, **kwargs: Any) -> tuple[GeocodeResult, float]:
    async def body(g: BanGeocoder) -> GeocodeResult:
        return await g.geocode(query)

    return run(url, body, **kwargs)


def geocode_many(
    url: str, queries: list[AddressQuery], **kwargs: Any
) -> tuple[list[GeocodeResult], float]:
    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        return await g.geocode_many(queries)

    return run(url, body, **kwargs)


def assert_ok(result: GeocodeResult, q: str = Q.q or "") -> None:
    assert result.error is None, result.error_detail
    assert result.best is not None
    assert result.best.label == f"label:{q}"


# ----------------------------------------------------------------------------- Retry-After


def test_429_with_retry_after_seconds_is_honoured(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(lambda s, i: Reply(429, headers={"Retry-After": "1"}) if i == 0 else ok(s))
    result, elapsed = geocode(server.url)
    assert_ok(result)
    first, second = server.times()
    assert 1.0 <= second - first < 3.0
    assert elapsed < 5


def test_429_with_retry_after_http_date_is_honoured(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    def behaviour(seen: Seen, index: int) -> Action:
        if index == 0:
            # HTTP dates have whole seconds: "now + 2 s" is 1 to 2 s away.
            return Reply(429, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        return ok(seen)

    server = serve(behaviour)
    result, elapsed = geocode(server.url)
    assert_ok(result)
    first, second = server.times()
    assert 0.95 <= second - first < 3.0
    assert elapsed < 5


def test_429_forever_is_rate_limited_after_the_retry_budget(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(lambda s, i: Reply(429, headers={"Retry-After": "0.2"}))
    result, elapsed = geocode(server.url, retries=3)
    assert result.error is GeocodeErrorKind.RATE_LIMITED
    assert result.candidates == []
    assert len(server.seen) == 4
    gaps = [b - a for a, b in zip(server.times(), server.times()[1:], strict=False)]
    assert all(gap >= 0.2 for gap in gaps)
    assert elapsed < 5


def test_retry_after_is_capped(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Reply(429, headers={"Retry-After": "3600"}) if i == 0 else ok(s))
    result, elapsed = geocode(server.url, max_retry_after=0.3)
    assert_ok(result)
    first, second = server.times()
    assert 0.3 <= second - first < 3.0
    assert elapsed < 5


def test_retry_after_beyond_the_deadline_gives_up_at_once(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    # Waiting 20 s would overrun the 10 s deadline: report the rate limit now, don't sleep.
    server = serve(lambda s, i: Reply(429, headers={"Retry-After": "20"}))
    result, elapsed = geocode(server.url, deadline=10.0)
    assert result.error is GeocodeErrorKind.RATE_LIMITED
    assert len(server.seen) == 1
    assert elapsed < 5


def test_429_pauses_every_request_sharing_the_geocoder(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    throttled = threading.Event()

    def behaviour(seen: Seen, index: int) -> Action:
        if not throttled.is_set():
            throttled.set()
            return Reply(429, headers={"Retry-After": "1"})
        return ok(seen)

    server = serve(behaviour)
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(6)]
    results, _ = geocode_many(server.url, queries, bulk=False, concurrency=1)
    for query, result in zip(queries, results, strict=True):
        assert_ok(result, query.q or "")
    times = server.times()
    # Nobody comes back before the advertised second, not only the throttled request.
    assert all(t - times[0] >= 1.0 for t in times[1:])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_future_date() -> None:
    seconds = parse_retry_after(formatdate(time.time() + 60, usegmt=True))
    assert seconds is not None
    assert 58 <= seconds <= 60


# ----------------------------------------------------------------------------- 5xx


def test_500_then_success(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Reply(500, "boom") if i == 0 else ok(s))
    result, elapsed = geocode(server.url)
    assert_ok(result)
    assert len(server.seen) == 2
    assert elapsed < 5


def test_503_forever_is_an_upstream_error(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Reply(503, "<html>down</html>"))
    result, elapsed = geocode(server.url, retries=3)
    assert result.error is GeocodeErrorKind.UPSTREAM
    assert result.error_detail is not None
    assert "503" in result.error_detail
    assert len(server.seen) == 4
    assert elapsed < 5


def test_400_is_not_retried(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Reply(400, {"code": 400, "message": "bad q"}))
    result, _ = geocode(server.url)
    assert result.error is GeocodeErrorKind.UPSTREAM
    assert len(server.seen) == 1


# ----------------------------------------------------------------------------- hangs


def test_hang_past_the_timeout(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Hang(30))
    result, elapsed = geocode(server.url, timeout=0.3, retries=1)
    assert result.error is GeocodeErrorKind.TIMEOUT
    assert len(server.seen) == 2
    assert elapsed < 5


def test_hang_once_then_success(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Hang(30) if i == 0 else ok(s))
    result, elapsed = geocode(server.url, timeout=0.3)
    assert_ok(result)
    assert elapsed < 5


def test_trickling_body_is_cut_by_the_overall_deadline(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    # Every byte comes within the read timeout, so only the deadline can stop this.
    server = serve(lambda s, i: Trickle(interval=0.1, size=1000))
    result, elapsed = geocode(server.url, timeout=2.0, deadline=1.0)
    assert result.error is GeocodeErrorKind.TIMEOUT
    assert result.error_detail is not None
    assert "deadline" in result.error_detail
    assert elapsed < 3


# ----------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"<html>gateway</html>",
        b"",
    ],
)
def test_malformed_json(serve: Callable[[Behaviour], FaultServer], body: bytes) -> None:
    server = serve(lambda s, i: Reply(200, body, {"Content-Type": "application/json"}))
    result, elapsed = geocode(server.url)
    assert result.error is GeocodeErrorKind.BAD_RESPONSE
    assert result.candidates == []
    assert len(server.seen) == 1  # a body that does not parse will not parse next time
    assert elapsed < 5


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"features": "none"},
        {"type": "FeatureCollection"},
        {"features": [42]},
        {"features": [{"properties": {"label": "x", "score": 1, "type": "street"}}]},
        {
            "features": [
                {
                    "geometry": {"coordinates": ["a", "b"]},
                    "properties": {"label": "x", "score": 1, "type": "street"},
                }
            ]
        },
        {
            "features": [
                {
                    "geometry": {"coordinates": [2.4, 48.9]},
                    "properties": {"label": "x", "score": "high", "type": "street"},
                }
            ]
        },
        {
            "features": [
                {
                    "geometry": {"coordinates": [200.0, 48.9]},
                    "properties": {"label": "x", "score": 0.9, "type": "street"},
                }
            ]
        },
    ],
)
def test_json_with_the_wrong_shape(serve: Callable[[Behaviour], FaultServer], payload: Any) -> None:
    server = serve(lambda s, i: Reply(200, payload))
    result, _ = geocode(server.url)
    assert result.error is GeocodeErrorKind.BAD_RESPONSE
    assert result.candidates == []


def test_unknown_feature_types_are_skipped(serve: Callable[[Behaviour], FaultServer]) -> None:
    def behaviour(seen: Seen, index: int) -> Action:
        features = [feature(seen.q, type_="poi", score=0.99), feature(seen.q, score=0.8)]
        return Reply(200, {"type": "FeatureCollection", "features": features})

    server = serve(behaviour)
    result, _ = geocode(server.url)
    assert_ok(result)
    assert [c.type for c in result.candidates] == [MatchType.HOUSENUMBER]


# ----------------------------------------------------------------------------- connections


def test_closed_connection_then_success(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Close() if i == 0 else ok(s))
    result, _ = geocode(server.url)
    assert_ok(result)
    assert len(server.seen) == 2


def test_closed_connection_forever(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: Close())
    result, elapsed = geocode(server.url)
    assert result.error is GeocodeErrorKind.UNAVAILABLE
    assert len(server.seen) == 3
    assert elapsed < 5


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result, elapsed = geocode(f"http://127.0.0.1:{port}")
    assert result.error is GeocodeErrorKind.UNAVAILABLE
    assert elapsed < 5


# ----------------------------------------------------------------------------- caps, order


def holding(cap: int) -> Behaviour:
    """Answer only once ``cap`` requests are in flight (or after 1 s), then 50 ms more.

    Waiting for the cap makes reaching it independent of machine load; the extra 50 ms
    gives a client that does not respect the cap the time to exceed it.
    """

    def behaviour(seen: Seen, index: int) -> Action:
        server = seen.server
        assert server is not None
        end = time.monotonic() + 1.0
        while server.in_flight < cap and time.monotonic() < end:
            time.sleep(0.005)
        return Reply(**{**ok(seen).__dict__, "delay": 0.05})

    return behaviour


def test_concurrency_cap(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(holding(3))
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(24)]
    results, _ = geocode_many(server.url, queries, bulk=False, concurrency=3, rate=1000)
    assert all(r.error is None for r in results)
    assert server.max_in_flight == 3


def test_concurrency_cap_holds_across_concurrent_callers(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(holding(2))

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        singles = asyncio.gather(*(g.geocode(AddressQuery(q=f"{n} rue Solo")) for n in range(8)))
        many = g.geocode_many([AddressQuery(q=f"{n} rue Lot Bondy") for n in range(8)])
        results, batch = await asyncio.gather(singles, many)
        return [*results, *batch]

    results, _ = run(server.url, body, bulk=False, concurrency=2, rate=1000)
    assert len(results) == 16
    assert all(r.error is None for r in results)
    assert server.max_in_flight == 2


def test_rate_cap(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: ok(s))
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(25)]
    # A burst of 5 (the concurrency), then 20 more at 20/s: at least ~1 s.
    results, elapsed = geocode_many(server.url, queries, bulk=False, concurrency=5, rate=20)
    assert all(r.error is None for r in results)
    times = server.times()
    assert times[-1] - times[0] >= 0.9
    assert elapsed < 5


def test_geocode_many_keeps_input_order(serve: Callable[[Behaviour], FaultServer]) -> None:
    # Earlier queries answer later, so completion order is the reverse of input order.
    def behaviour(seen: Seen, index: int) -> Action:
        n = int(seen.q.split()[0])
        return Reply(**{**ok(seen).__dict__, "delay": 0.02 * (20 - n)})

    server = serve(behaviour)
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(20)]
    results, _ = geocode_many(server.url, queries, bulk=False, concurrency=8, rate=1000)
    for query, result in zip(queries, results, strict=True):
        assert_ok(result, query.q or "")


def test_geocode_many_errors_stay_on_their_rows(serve: Callable[[Behaviour], FaultServer]) -> None:
    def behaviour(seen: Seen, index: int) -> Action:
        n = int(seen.q.split()[0])
        if n % 5 == 0:
            return Reply(503)
        if n % 7 == 0:
            return Reply(200, b"{broken")
        return ok(seen)

    server = serve(behaviour)
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(1, 31)]
    results, elapsed = geocode_many(server.url, queries, bulk=False, retries=1, breaker_threshold=0)
    for n, (query, result) in enumerate(zip(queries, results, strict=True), start=1):
        if n % 5 == 0:
            assert result.error is GeocodeErrorKind.UPSTREAM
        elif n % 7 == 0:
            assert result.error is GeocodeErrorKind.BAD_RESPONSE
        else:
            assert_ok(result, query.q or "")
    assert elapsed < 5


def test_circuit_breaker_fails_fast_when_the_server_is_down(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(lambda s, i: Reply(503))
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(40)]
    results, elapsed = geocode_many(
        server.url, queries, bulk=False, retries=2, concurrency=2, breaker_threshold=3
    )
    assert all(r.error is GeocodeErrorKind.UPSTREAM for r in results)
    assert any("circuit open" in (r.error_detail or "") for r in results)
    # Without the breaker: 40 rows x 3 attempts. With it: a handful of rows try for real.
    assert len(server.seen) <= 5 * 3
    assert elapsed < 5


# ----------------------------------------------------------------------------- /search/csv


def test_bulk_rows_come_back_in_input_order(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: csv_ok(s, reverse=True))
    queries = [AddressQuery(q=f"{n} rue Test Bondy", code_postal="93140") for n in range(50)]
    results, _ = geocode_many(server.url, queries, bulk_chunk_size=20)
    for query, result in zip(queries, results, strict=True):
        assert_ok(result, query.q or "")
    assert [s.path for s in server.seen] == ["/search/csv"] * 3
    first = server.seen[0]
    assert first.form["columns"] == ["qpv_q"]
    assert first.form["postcode"] == ["qpv_postcode"]
    assert "citycode" not in first.form
    assert first.csv_rows is not None
    assert [r["qpv_postcode"] for r in first.csv_rows] == ["93140"] * 20


def test_bulk_falls_back_to_search_without_a_csv_endpoint(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(lambda s, i: Reply(404, "no route") if s.path == "/search/csv" else ok(s))
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(12)]

    async def body(g: BanGeocoder) -> list[list[GeocodeResult]]:
        return [await g.geocode_many(queries), await g.geocode_many(queries)]

    (first, second), _ = run(server.url, body)
    for results in (first, second):
        for query, result in zip(queries, results, strict=True):
            assert_ok(result, query.q or "")
    # Tried once, then remembered that the server has no /search/csv.
    assert [s.path for s in server.seen].count("/search/csv") == 1
    assert [s.path for s in server.seen].count("/search") == 24


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(lambda s, i: Reply(503), id="503"),
        pytest.param(lambda s, i: Hang(30), id="hang"),
        pytest.param(lambda s, i: Reply(200, "<html>proxy</html>"), id="not-csv"),
        pytest.param(lambda s, i: csv_ok(s, drop=3), id="missing-rows"),
        pytest.param(lambda s, i: Close(), id="closed"),
    ],
)
def test_bulk_failure_falls_back_to_search(
    serve: Callable[[Behaviour], FaultServer], behaviour: Behaviour
) -> None:
    server = serve(lambda s, i: behaviour(s, i) if s.path == "/search/csv" else ok(s))
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(15)]
    results, elapsed = geocode_many(server.url, queries, timeout=0.5, retries=1)
    for query, result in zip(queries, results, strict=True):
        assert_ok(result, query.q or "")
    assert [s.path for s in server.seen].count("/search") == 15
    assert elapsed < 5


def test_bulk_error_rows(serve: Callable[[Behaviour], FaultServer]) -> None:
    def behaviour(seen: Seen, index: int) -> Action:
        reply = csv_ok(seen)
        assert isinstance(reply.body, bytes)
        rows = list(csv.DictReader(io.StringIO(reply.body.decode("utf-8-sig"))))
        out = io.StringIO()
        writer = csv.DictWriter(out, [*rows[0].keys(), "result_status"])
        writer.writeheader()
        for n, row in enumerate(rows):
            if n == 1:  # BAN found nothing: empty result columns
                row.update(
                    {
                        k: ""
                        for k in row
                        if k.startswith("result_") or k in ("latitude", "longitude")
                    }
                )
                row["result_status"] = "not-found"
            elif n == 2:
                row.update({k: "" for k in row if k.startswith("result_")})
                row["result_status"] = "error"
            elif n == 3:
                row["latitude"] = "north"
                row["result_status"] = "ok"
            else:
                row["result_status"] = "ok"
            writer.writerow(row)
        return Reply(body=out.getvalue().encode(), headers={"Content-Type": "text/csv"})

    server = serve(lambda s, i: behaviour(s, i) if s.path == "/search/csv" else ok(s))
    queries = [AddressQuery(q=f"{n} rue Test Bondy") for n in range(12)]
    results, _ = geocode_many(server.url, queries)
    assert_ok(results[0], queries[0].q or "")
    assert results[1] == GeocodeResult()
    assert results[2].error is GeocodeErrorKind.UPSTREAM
    assert results[3].error is GeocodeErrorKind.BAD_RESPONSE
    for query, result in zip(queries[4:], results[4:], strict=True):
        assert_ok(result, query.q or "")
    assert [s.path for s in server.seen] == ["/search/csv"]


# ----------------------------------------------------------------------------- privacy


def test_addresses_stay_out_of_logs_and_error_details(
    serve: Callable[[Behaviour], FaultServer], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "17 impasse Confidentielle"

    def behaviour(seen: Seen, index: int) -> Action:
        actions: list[Action] = [Reply(503), Reply(200, b"{bad"), Close(), ok(seen)]
        return actions[index % 4]

    server = serve(behaviour)
    caplog.set_level(logging.DEBUG)
    results = [
        geocode(server.url, AddressQuery(q=f"{secret} Bondy"), retries=0)[0] for _ in range(4)
    ]
    assert [r.error for r in results] == [
        GeocodeErrorKind.UPSTREAM,
        GeocodeErrorKind.BAD_RESPONSE,
        GeocodeErrorKind.UNAVAILABLE,
        None,
    ]
    assert "HTTP Request" in caplog.text  # httpx did log the requests...
    for text in (caplog.text, *(r.error_detail or "" for r in results)):
        assert "Confidentielle" not in text  # ...without the query string
        assert "impasse" not in text


# ----------------------------------------------------------------------------- batches


def test_duplicate_queries_are_sent_once(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: ok(s))
    a, b = AddressQuery(q="1 rue Test Bondy"), AddressQuery(q=" 1   rue Test Bondy ")
    c = AddressQuery(q="2 rue Test Bondy")
    queries = [a, c, b, a, AddressQuery(), c, a]
    results, _ = geocode_many(server.url, queries, bulk=False)
    assert len(server.seen) == 2  # a and b normalise to the same query
    for query, result in zip(queries, results, strict=True):
        if query.q:
            assert_ok(result, " ".join(query.q.split()))
        else:
            assert result == GeocodeResult()
    results[0].candidates.clear()
    assert results[3].candidates, "rows must not share one mutable candidates list"


def test_bulk_not_found_with_a_postcode_is_retried_without_the_filter(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    def behaviour(seen: Seen, index: int) -> Action:
        if seen.path == "/search/csv":
            assert seen.csv_rows is not None
            out = io.StringIO()
            writer = csv.DictWriter(out, [*seen.csv_rows[0], "result_label", "result_type"])
            writer.writeheader()
            writer.writerows(seen.csv_rows)  # every row: no result
            return Reply(body=out.getvalue(), headers={"Content-Type": "text/csv"})
        if "postcode" in seen.params:
            return Reply(body={"type": "FeatureCollection", "features": []})
        return ok(seen)

    server = serve(behaviour)
    queries = [AddressQuery(q=f"{n} rue Test Bondy", code_postal="93141") for n in range(10)]
    queries += [AddressQuery(q=f"{n} rue Sans Code Bondy") for n in range(10)]
    results, _ = geocode_many(server.url, queries)
    for query, result in zip(queries[:10], results[:10], strict=True):
        assert_ok(result, query.q or "")
    assert all(r == GeocodeResult() for r in results[10:])
    searches = [s for s in server.seen if s.path == "/search"]
    assert len(searches) == 10
    assert all("postcode" not in s.params for s in searches)


def test_closed_geocoder_returns_errors(serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(lambda s, i: ok(s))

    async def body(g: BanGeocoder) -> list[GeocodeResult]:
        await g.aclose()
        return [await g.geocode(Q), *await g.geocode_many([Q] * 12)]

    results, _ = run(server.url, body)
    assert all(r.error is GeocodeErrorKind.UPSTREAM for r in results)
    assert server.seen == []


def test_is_a_geocoder_built_from_settings() -> None:
    settings = Settings(ban_url="http://127.0.0.1:9/geocodage/", ban_timeout_s=1.5)
    geocoder = BanGeocoder.from_settings(settings)
    assert isinstance(geocoder, Geocoder)
    assert geocoder.name == "ban"
    assert geocoder.base_url == "http://127.0.0.1:9/geocodage"
    asyncio.run(geocoder.aclose())


def test_base_url_with_a_path(serve: Callable[[Behaviour], FaultServer]) -> None:
    # IGN Géoplateforme serves BAN under a path: https://data.geopf.fr/geocodage/search
    server = serve(lambda s, i: ok(s))
    result, _ = geocode(f"{server.url}/geocodage/")
    assert_ok(result)
    assert [s.path for s in server.seen] == ["/geocodage/search"]


# ----------------------------------------------------------------------------- hardening


@pytest.mark.parametrize(
    "action",
    [
        Reply(body=b" " * (3 << 20)),  # declared: refused before reading
        Endless(total=64 << 20),  # no length: cut while reading
    ],
    ids=["content-length", "streamed"],
)
def test_an_answer_past_the_size_cap_is_refused_as_a_bad_response(
    serve: Callable[[Behaviour], FaultServer], action: Action
) -> None:
    server = serve(lambda s, i: action)
    result, elapsed = geocode(server.url, max_response_bytes=1 << 20)
    assert result.error is GeocodeErrorKind.BAD_RESPONSE
    assert result.error_detail == f"answer larger than {1 << 20} bytes, refused"
    assert len(server.seen) == 1  # not retried
    assert elapsed < 5


def test_the_size_cap_comes_from_the_settings() -> None:
    geocoder = BanGeocoder.from_settings(Settings(ban_max_response_bytes=4096))
    assert geocoder._transport._max_bytes == 4096


def test_a_redirect_to_another_origin_is_not_followed(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    elsewhere = serve(lambda s, i: ok(s))
    server = serve(
        lambda s, i: Reply(302, headers={"Location": f"{elsewhere.url}/search?q=stolen"})
    )
    result, _ = geocode(server.url)
    assert result.error is GeocodeErrorKind.UPSTREAM
    port = elsewhere.server_address[1]
    assert result.error_detail == (
        f"redirected off the configured origin (to http://127.0.0.1:{port}), not followed"
    )
    assert elsewhere.seen == []  # the address never reached the other server
    assert len(server.seen) == 1


def test_a_redirect_within_the_origin_is_followed(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    def behaviour(seen: Seen, index: int) -> Action:
        if seen.path == "/search":
            return Reply(301, headers={"Location": f"/v2/search?q={seen.q}"})
        return ok(seen)

    server = serve(behaviour)
    result, _ = geocode(server.url)
    assert_ok(result)
    assert [s.path for s in server.seen] == ["/search", "/v2/search"]


def test_a_retry_after_past_the_deadline_fails_the_next_callers_at_once_as_rate_limited(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(lambda s, i: Reply(429, headers={"Retry-After": "120"}) if i == 0 else ok(s))

    async def body(g: BanGeocoder) -> list[tuple[GeocodeResult, float]]:
        out = []
        for _ in range(3):
            start = time.monotonic()
            out.append((await g.geocode(Q), time.monotonic() - start))
        return out

    answers, _ = run(server.url, body, deadline=5.0, max_retry_after=300)
    for result, seconds in answers:
        assert result.error is GeocodeErrorKind.RATE_LIMITED
        assert seconds < 1.0  # not the 5 s deadline spent waiting, then "timeout"
    assert answers[1][0].error_detail is not None
    assert "past this request's deadline" in answers[1][0].error_detail
    assert len(server.seen) == 1  # the pause is honoured: nothing sent during it


def test_a_pause_within_the_deadline_is_waited_for(
    serve: Callable[[Behaviour], FaultServer],
) -> None:
    server = serve(lambda s, i: Reply(429, headers={"Retry-After": "1"}) if i == 0 else ok(s))

    async def body(g: BanGeocoder) -> GeocodeResult:
        first = await g.geocode(Q)  # retried after the pause: served
        assert_ok(first)
        return await g.geocode(Q)

    result, _ = run(server.url, body, deadline=5.0, retries=2)
    assert_ok(result)
    assert len(server.seen) == 3
