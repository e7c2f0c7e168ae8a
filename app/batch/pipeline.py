"""The tagging pipeline: read rows in blocks, geocode what needs it, tag, write in order.

Each block goes through three steps: read (coordinates parsed with numpy, address queries
built and validated), geocode (in the worker thread for the in-process ``local`` provider,
on the event loop for the ``ban`` provider's bulk ``/search/csv``), then answer and write
(one ``tag_ids`` query for every row with coordinates). CPU steps run in a worker thread so
that a server keeps answering other requests while a batch runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from pyproj import Transformer

from app.addresses import AddressAnswer, AddressResolver, validate
from app.batch.options import OutputFormat, TagOptions, invalid
from app.batch.readers import Block, Source, XlsxBlock, blocks, resolve
from app.batch.results import (
    GEOCODER_ERROR,
    INVALID,
    STATUS_CODE,
    STATUSES,
    Labels,
    Results,
)
from app.batch.writers import Writer, make_writer
from app.divisions import AdminDivisions
from app.errors import GeographyNotLoaded, QpvError, TooLarge, echo
from app.geocoding.base import AddressQuery, Candidate, Geocoder, GeocodeResult, in_process
from app.geocoding.fallback import CoverageFallback
from app.geocoding.hints import SearchHints
from app.geocoding.local.reverse import ReverseIndex, reverse_of
from app.settings import Settings
from app.spatial.coordinates import (
    lonlat_problem,
    outside_area_of_use,
    swapped_lonlat,
    xy_problem,
)
from app.spatial.geography import Geography, geography_in_force
from app.spatial.index import PointAnswer, QpvIndex
from app.spatial.tagging import GEOGRAPHIES, tag_ids
from app.spatial.territories import TERRITORY_BY_KEY, territory_of_point

T = TypeVar("T")
PREFETCH = 2  # blocks tagged ahead of the consumer
Progress = Callable[[int], None]  # called with the number of rows just finished
LAMBERT93_EPSG = 2154
LAMBERT93 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)  # x/y -> lon/lat


@dataclass(slots=True)
class TagSummary:
    """What a batch did: rows written, rows per status, wall time."""

    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, results: Results) -> None:
        """Count one block's rows."""
        self.rows += len(results.status)
        for code, count in enumerate(np.bincount(results.status, minlength=len(STATUSES))):
            if count:
                name = STATUSES[code]
                self.counts[name] = self.counts.get(name, 0) + int(count)


@dataclass(frozen=True, slots=True)
class Plan:
    """Positions in the header of the columns a batch reads."""

    address: tuple[int, ...]
    postcode: int | None
    citycode: int | None
    lat: int | None
    lon: int | None
    x: int | None
    y: int | None
    near: tuple[int, int] | None = None  # (lat, lon) of a point to prefer results near


@dataclass(slots=True)
class Pending:
    """Rows of a block waiting for the geocoder."""

    rows: list[int]
    queries: list[AddressQuery]
    results: list[GeocodeResult] | None = None
    near: dict[int, tuple[float, float]] = field(default_factory=dict)  # row -> (lon, lat)


@dataclass(frozen=True, slots=True)
class _Run:
    options: TagOptions
    plan: Plan
    geocoder: Geocoder | None
    writer: Writer | None  # None: the caller reads the results (tag_rows)


def column_index(header: list[str], name: str, parameter: str) -> int:
    """Position of the column ``name`` (exact, else ignoring case and spaces)."""
    hits = [i for i, h in enumerate(header) if h == name]
    if not hits:
        wanted = name.strip().casefold()
        hits = [i for i, h in enumerate(header) if h.strip().casefold() == wanted]
    if len(hits) > 1:
        raise invalid(parameter, f"column {echo(name)} appears {len(hits)} times in the header")
    if not hits:
        shown = ", ".join(repr(h) for h in header[:30])
        raise invalid(parameter, f"no column {echo(name)} in the header ({shown})")
    return hits[0]


def plan_columns(header: list[str], options: TagOptions) -> Plan:
    """Resolve the options' column names against the header; InvalidInput names the option."""

    def find(name: str | None, parameter: str) -> int | None:
        return None if name is None else column_index(header, name, parameter)

    return Plan(
        address=tuple(column_index(header, c, "columns") for c in options.columns),
        postcode=find(options.postcode, "postcode"),
        citycode=find(options.citycode, "citycode"),
        lat=find(options.lat, "lat"),
        lon=find(options.lon, "lon"),
        x=find(options.x, "x"),
        y=find(options.y, "y"),
        near=(
            (
                column_index(header, options.near[0], "lat"),
                column_index(header, options.near[1], "lon"),
            )
            if options.near
            else None
        ),
    )


class Tagger:
    """Tags files and streams with one index and (optionally) one address resolver."""

    def __init__(
        self, index: QpvIndex, resolver: AddressResolver | None, settings: Settings
    ) -> None:
        self.index = index
        self.resolver = resolver
        self.settings = settings
        self.labels = Labels(index, settings.boundary_tolerance_m)
        self._reverse: ReverseIndex | None = None

    @classmethod
    def of(
        cls,
        index: QpvIndex,
        geocoders: dict[str, Geocoder],
        settings: Settings,
        divisions: AdminDivisions | None = None,
    ) -> Tagger:
        """A tagger that resolves addresses with ``geocoders`` (coordinates only without)."""
        resolver = AddressResolver(index, geocoders, settings, divisions) if geocoders else None
        return cls(index, resolver, settings)

    # ------------------------------------------------------------------ entry points

    def tag_file(
        self,
        src: Path,
        dst: Path,
        options: TagOptions,
        progress: Progress | None = None,
    ) -> TagSummary:
        """Tag ``src`` (csv or xlsx) into ``dst`` in the options' output format."""
        return run_sync(self.atag_file(src, dst, options, progress))

    async def atag_file(
        self,
        src: Path,
        dst: Path,
        options: TagOptions,
        progress: Progress | None = None,
    ) -> TagSummary:
        """``tag_file`` for callers already inside an event loop."""
        summary = TagSummary()
        with open(src, "rb") as inp, open(dst, "wb") as out:
            async for piece in self.stream(inp, options, summary, progress):
                out.write(piece)
        return summary

    def open(self, src: IO[bytes], options: TagOptions) -> tuple[Source, TagOptions]:
        """Check the options against the input's header before any row is read."""
        options.check()
        source, resolved = resolve(src, options)
        plan_columns(source.header, resolved)
        self._geocoder(resolved)
        self._check_geographies(resolved)
        if resolved.reverse:
            self.reverse_index()
        return source, resolved

    def reverse_index(self) -> ReverseIndex:
        """The nearest-address index of the offline tables (InvalidInput without them)."""
        if self._reverse is None:
            geocoders = self.resolver.geocoders.values() if self.resolver is not None else ()
            self._reverse = reverse_of(geocoders)
        if self._reverse is None:
            raise invalid(
                "lat", "reverse geocoding needs the offline geocoder (QPV_GEOCODERS=local)"
            )
        return self._reverse

    async def stream(
        self,
        src: IO[bytes],
        options: TagOptions,
        summary: TagSummary | None = None,
        progress: Progress | None = None,
        max_rows: int | None = None,
    ) -> AsyncIterator[bytes]:
        """The tagged output as bytes, made block by block (TooLarge past ``max_rows``).

        The next blocks are tagged while the caller sends the previous ones (a queue of
        PREFETCH blocks), so a server's network writes overlap the tagging.
        """
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(PREFETCH)

        async def produce() -> None:
            try:
                async for piece in self._pieces(src, options, summary, progress, max_rows):
                    await queue.put(piece)
            except BaseException as exc:  # handed to the consumer, raised there
                await queue.put(exc)
            finally:
                await queue.put(None)

        producer = asyncio.create_task(produce())
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            producer.cancel()

    async def _pieces(
        self,
        src: IO[bytes],
        options: TagOptions,
        summary: TagSummary | None,
        progress: Progress | None,
        max_rows: int | None,
    ) -> AsyncIterator[bytes]:
        summary = summary if summary is not None else TagSummary()
        started = time.perf_counter()
        source, resolved = await asyncio.to_thread(self.open, src, options)
        run = _Run(
            resolved,
            plan_columns(source.header, resolved),
            self._geocoder(resolved),
            make_writer(source, resolved, self.labels),
        )
        writer = run.writer
        assert writer is not None
        yield writer.start()
        reader = blocks(src, source)
        while (step := await asyncio.to_thread(self._next, run, reader)) is not None:
            block, results, pending, out = step
            if max_rows is not None and summary.rows + block.n > max_rows:
                raise TooLarge(f"the file has more than {max_rows} rows", limit=max_rows)
            if pending is not None:
                await _geocode(run, pending)
                out = await asyncio.to_thread(self._finish, run, block, results, pending)
            summary.add(results)
            summary.seconds = time.perf_counter() - started
            if progress is not None:
                progress(block.n)
            yield out
        for piece in await asyncio.to_thread(lambda: list(writer.finish())):
            yield piece
        summary.seconds = time.perf_counter() - started

    def _next(
        self, run: _Run, reader: Iterator[Block]
    ) -> tuple[Block, Results, Pending | None, bytes] | None:
        """Read and tag the next block (one thread hop for both)."""
        block = next(reader, None)
        if block is None:
            return None
        return (block, *self._step(run, block))

    async def tag_rows(
        self, header: list[str], rows: list[list[Any]], options: TagOptions
    ) -> Results:
        """Answers for rows already in memory (typed values), e.g. a JSON batch."""
        return await self.tag_block(header, XlsxBlock(rows, len(header)), options)

    async def tag_block(self, header: list[str], block: Block, options: TagOptions) -> Results:
        """Answers for one block of rows under ``header`` (no writer)."""
        options.check()
        plan = plan_columns(header, options)
        run = _Run(options, plan, self._geocoder(options), None)
        self._check_geographies(options)
        results, pending, _ = await asyncio.to_thread(self._step, run, block)
        if pending is not None:
            await _geocode(run, pending)
            await asyncio.to_thread(self._finish, run, block, results, pending)
        return results

    # ------------------------------------------------------------------ checks

    def _geocoder(self, options: TagOptions) -> Geocoder | None:
        """The provider the rows with an address go to (None when no row has one)."""
        wanted = bool(options.columns or options.postcode or options.citycode)
        if not wanted and options.provider is None:
            return None
        if self.resolver is None:
            parameter = "columns" if wanted else "provider"
            raise invalid(parameter, "no geocoder is configured: give lat/lon or x/y columns")
        try:
            geocoder = self.resolver.geocoder(options.provider)
        except QpvError as exc:
            raise invalid("provider", exc.detail) from None
        return geocoder if wanted else None

    def _check_geographies(self, options: TagOptions) -> None:
        if options.geography is not None:
            self.index.get(options.geography)
            return
        # The hexagone's geography in force must be there; others fail row by row.
        when = options.as_of or date.today()
        self.index.get(geography_in_force(when, TERRITORY_BY_KEY["hexagone"]))

    # ------------------------------------------------------------------ one block

    def _step(self, run: _Run, block: Block) -> tuple[Results, Pending | None, bytes]:
        """Read, geocode in process when possible, answer and write one block."""
        results, pending = self._read(run, block)
        geocoder = run.geocoder
        fallback = isinstance(geocoder, CoverageFallback)
        local = geocoder.primary if isinstance(geocoder, CoverageFallback) else geocoder
        if pending is not None and local is not None and in_process(local):
            pending.results = [local.result(q, 5) for q in pending.queries]
            if fallback and any(r.uncovered for r in pending.results):
                return results, pending, b""  # rows of communes not covered: to the fallback
        if pending is not None and (pending.results is None or fallback):
            return results, pending, b""
        return results, None, self._finish(run, block, results, pending)

    def _finish(self, run: _Run, block: Block, results: Results, pending: Pending | None) -> bytes:
        if pending is not None:
            self._answer(run, results, pending)
        return run.writer.write(block, results) if run.writer is not None else b""

    def _read(self, run: _Run, block: Block) -> tuple[Results, Pending | None]:
        """Parse coordinates, tag them, and build the address queries of the other rows."""
        results = Results.empty(block.n)
        counts = block.field_counts()
        width = block.width
        for i in np.flatnonzero(counts == 0).tolist():
            results.fail(i, INVALID, "empty row")
        for i in np.flatnonzero(counts > width).tolist():
            results.fail(
                i,
                INVALID,
                f"the row has {counts[i]} fields, the header {width}: "
                "the extra ones are kept in the last column",
            )
        readable = (counts > 0) & (counts <= width)
        todo = readable.copy()
        plan = run.plan
        if plan.lat is not None or plan.x is not None:
            has_xy = self._coordinates(run, block, results, readable)
            todo &= ~has_xy
        if not plan.address and plan.postcode is None and plan.citycode is None:
            for i in np.flatnonzero(todo).tolist():
                results.fail(i, INVALID, "no coordinates in this row")
            return results, None
        rows = np.flatnonzero(todo).tolist()
        return results, self._queries(block, plan, results, rows) if rows else None

    def _coordinates(
        self, run: _Run, block: Block, results: Results, readable: NDArray[np.bool_]
    ) -> NDArray[np.bool_]:
        """Tag the rows that carry coordinates; return which rows did (valid or not)."""
        plan = run.plan
        ka, kb = (plan.lon, plan.lat) if plan.lat is not None else (plan.x, plan.y)
        assert ka is not None and kb is not None
        a, b = block.numbers(ka), block.numbers(kb)
        given = readable & ~_blank(block, ka, kb, a, b, readable)
        read = a, b
        if plan.x is not None:
            a, b = LAMBERT93.transform(a, b)
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            implausible = outside_area_of_use(a, b, LAMBERT93_EPSG)
        else:
            implausible = swapped_lonlat(a, b)
        ok = given & np.isfinite(a) & np.isfinite(b) & (np.abs(a) <= 180) & (np.abs(b) <= 90)
        ok &= ~implausible
        for i in np.flatnonzero(given & ~ok).tolist():
            results.fail(i, INVALID, _bad_coordinates(run, float(read[0][i]), float(read[1][i])))
        rows = np.flatnonzero(ok)
        if rows.size:
            self._tag(run, results, rows, a[rows], b[rows])
            if run.options.reverse:
                self._nearest(results, rows, a[rows], b[rows])
        return given

    def _nearest(
        self,
        results: Results,
        rows: NDArray[np.intp],
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
    ) -> None:
        """Each row's nearest address point (reverse geocoding), NaN metres when none."""
        index = self.reverse_index()
        for i, x, y in zip(rows.tolist(), lon.tolist(), lat.tolist(), strict=True):
            found = index.nearest(x, y, 1)
            results.reverse_m[i] = found[0].distance_m if found else float("nan")
            if found:
                results.found[i] = found[0].candidate

    def _tag(
        self,
        run: _Run,
        results: Results,
        rows: NDArray[np.intp],
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
    ) -> None:
        """One vectorised index query for every row with coordinates."""
        options = run.options
        tolerance = self.settings.boundary_tolerance_m
        try:
            ids = tag_ids(
                self.index, lon, lat, options.geography, options.as_of, tolerance, options.distances
            )
        except GeographyNotLoaded as exc:
            for i in rows.tolist():
                results.fail(i, INVALID, exc.detail)
            return
        results.status[rows] = ids.status
        results.geography[rows] = ids.geography
        results.qpv[rows] = ids.qpv
        results.lon[rows], results.lat[rows] = lon, lat
        if ids.distance_m is not None:
            results.distance[rows] = ids.distance_m

    def _queries(
        self, block: Block, plan: Plan, results: Results, rows: list[int]
    ) -> Pending | None:
        """Validated address queries for ``rows``; invalid ones are marked and left out."""
        texts = [block.texts(k) for k in plan.address]
        postcodes = block.texts(plan.postcode) if plan.postcode is not None else None
        citycodes = block.texts(plan.citycode) if plan.citycode is not None else None
        pending = Pending([], [])
        if plan.near is not None:
            lats, lons = block.numbers(plan.near[0]), block.numbers(plan.near[1])
            for i in rows:
                if abs(lats[i]) <= 90 and abs(lons[i]) <= 180:  # NaN compares false: left out
                    pending.near[i] = (float(lons[i]), float(lats[i]))
        for i in rows:
            q = " ".join(t for col in texts if (t := (col[i] or "").strip()))
            query = AddressQuery(
                q=q or None,
                code_postal=postcodes[i] if postcodes else None,
                citycode=citycodes[i] if citycodes else None,
            )
            try:
                query = validate(query)
            except QpvError as exc:
                results.fail(i, INVALID, exc.detail if q else "empty address")
                continue
            pending.rows.append(i)
            pending.queries.append(query)
        return pending if pending.rows else None

    def _answer(self, run: _Run, results: Results, pending: Pending) -> None:
        """Turn geocoding results into QPV answers, row by row."""
        assert self.resolver is not None and run.geocoder is not None
        assert pending.results is not None
        options = run.options
        points = self._points(options, pending.results)
        for i, query, result, point in zip(
            pending.rows, pending.queries, pending.results, points, strict=True
        ):
            if result.error is not None:
                results.fail(
                    i, GEOCODER_ERROR, f"the {run.geocoder.name} geocoder failed: {result.error}"
                )
                continue
            if i in pending.near:
                near = SearchHints(len(result.candidates), near=pending.near[i]).apply(result)
                if near.candidates[:1] != result.candidates[:1]:
                    result, point = near, None  # another best: its point is looked up again
            try:
                answer = self.resolver.answer(
                    query, result, run.geocoder, options.geography, options.as_of, point
                )
            except QpvError as exc:
                results.fail(i, INVALID, exc.detail)
                continue
            _fill(results, i, answer)
            if answer.candidate is not None and len(result.candidates) > 1:
                results.next_score[i] = result.candidates[1].score

    def _points(self, options: TagOptions, found: list[GeocodeResult]) -> list[PointAnswer | None]:
        """The point answer at each row's best candidate, one index query per geography."""
        min_score = self.settings.geocoder_min_score
        points: list[PointAnswer | None] = [None] * len(found)
        groups: dict[Geography, list[tuple[int, Candidate]]] = {}
        for j, result in enumerate(found):
            best = next((c for c in result.candidates if c.score >= min_score), None)
            if best is None or result.error is not None:
                continue
            try:
                territory = territory_of_point(best.lon, best.lat)
                geo = self.index.choose(options.geography, options.as_of, territory)
            except QpvError:
                continue  # answer() reports it for this row
            groups.setdefault(geo.geography, []).append((j, best))
        tolerance = self.settings.boundary_tolerance_m
        for geography, items in groups.items():
            lon = np.array([c.lon for _, c in items])
            lat = np.array([c.lat for _, c in items])
            answers = self.index.get(geography).lookup_many(lon, lat, tolerance)
            for (j, _), answer in zip(items, answers, strict=True):
                points[j] = answer
        return points


async def _geocode(run: _Run, pending: Pending) -> None:
    """Geocode the rows not yet geocoded in process, or pass the uncovered ones on."""
    geocoder = run.geocoder
    assert geocoder is not None
    if pending.results is None:
        pending.results = await geocoder.geocode_many(pending.queries, limit=1)
    elif isinstance(geocoder, CoverageFallback):
        pending.results = await geocoder.complete(pending.queries, pending.results)


def _fill(results: Results, i: int, answer: AddressAnswer) -> None:
    """Row ``i``'s result columns from an address answer."""
    results.status[i] = STATUS_CODE[answer.status.value]
    results.geography[i] = GEOGRAPHIES.index(answer.geo.geography)
    results.reason[i] = answer.reason
    if answer.candidate is not None:
        results.found[i] = answer.candidate
        results.lon[i], results.lat[i] = answer.candidate.lon, answer.candidate.lat
    point = answer.point
    if point is not None:
        if point.qpv is not None and point.inside:
            results.qpv[i] = answer.geo.by_code[point.qpv.code]
        if point.distance_m is not None:
            results.distance[i] = point.distance_m


def _blank(
    block: Block,
    ka: int,
    kb: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    readable: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Rows whose two coordinate fields are both empty (they may be geocoded instead)."""
    out = np.zeros(block.n, dtype=bool)
    maybe = np.flatnonzero(readable & np.isnan(a) & np.isnan(b))
    if maybe.size:
        ta, tb = block.texts(ka), block.texts(kb)
        for i in maybe.tolist():
            out[i] = not (ta[i] or "").strip() and not (tb[i] or "").strip()
    return out


def _bad_coordinates(run: _Run, a: float, b: float) -> str:
    """Why the row's coordinates (as read: lon/lat or x/y) cannot be answered."""
    if run.plan.x is not None:
        if np.isnan(a) or np.isnan(b):
            return "x/y must both be numbers (decimal point or decimal comma)"
        return xy_problem(a, b, LAMBERT93_EPSG) or "x/y do not give a position in Lambert-93"
    if np.isnan(a) or np.isnan(b):
        return "lat/lon must both be numbers (decimal point or decimal comma)"
    return lonlat_problem(a, b) or f"coordinates out of range (lat {b:g}, lon {a:g})"


def media_type(fmt: OutputFormat, encoding: str | None) -> str:
    """The media type of an output format (with the charset of a CSV)."""
    if fmt is OutputFormat.CSV:
        charset = (encoding or "utf-8").replace("-sig", "")
        return f"text/csv; charset={charset}"
    return {
        OutputFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        OutputFormat.PARQUET: "application/vnd.apache.parquet",
        OutputFormat.GEOJSON: "application/geo+json",
    }[fmt]


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, also under a running loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
