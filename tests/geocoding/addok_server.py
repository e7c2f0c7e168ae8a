"""A real addok (the BAN search engine) on loopback, for tests of the ``ban`` geocoder.

Pipeline: an official BAN CSV -> addok's NDJSON (one document per street with its house
numbers, as in BAN's ``adresses-addok-DD.ndjson`` exports) -> ``addok batch`` + ``addok
ngrams`` into two dedicated Redis databases -> addok's WSGI app (with addok-csv's
``/search/csv``) served by a threaded ``wsgiref`` server in a child process.

The child process keeps addok's global configuration (loaded at import, with prints and
plugin discovery) out of the pytest process. Run as a script, this module is that child.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import gzip
import json
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Redis databases tried in turn, as (indexes, documents) pairs; a file lock per pair lets
# several test sessions on one machine (xdist workers, two checkouts) each take their own.
# Never 0 (the default DB of everything), nor 14/15 (addok's own pytest plugin flushes them).
REDIS_DB_PAIRS: tuple[tuple[int, int], ...] = ((10, 11), (12, 13))
_PORT_PREFIX = "ADDOK_TEST_PORT="

# The configuration of the BAN's own addok (API Adresse / Géoplateforme), minus logging.
_CONFIG_TEMPLATE = """\
# Written by tests/geocoding/addok_server.py
REDIS = {{
    "host": {host!r},
    "port": {port!r},
    "indexes": {{"db": {db_indexes!r}}},
    "documents": {{"db": {db_documents!r}}},
}}
ATTRIBUTION = "BAN"
LICENCE = "ETALAB-2.0"
EXTRA_FIELDS = [{{"key": "citycode"}}]
FILTERS = ["type", "postcode", "citycode"]
QUERY_PROCESSORS_PYPATHS = [
    "addok.helpers.text.check_query_length",
    "addok_france.extract_address",
    "addok_france.clean_query",
    "addok_france.remove_leading_zeros",
]
SEARCH_RESULT_PROCESSORS_PYPATHS = [
    "addok.helpers.results.match_housenumber",
    "addok_france.make_labels",
    "addok.helpers.results.score_by_importance",
    "addok.helpers.results.score_by_autocomplete_distance",
    "addok.helpers.results.score_by_ngram_distance",
    "addok.helpers.results.score_by_geo_distance",
    "addok.helpers.results.adjust_scores",
]
PROCESSORS_PYPATHS = [
    "addok.helpers.text.tokenize",
    "addok.helpers.text.normalize",
    "addok_france.glue_ordinal",
    "addok_france.fold_ordinal",
    "addok_france.flag_housenumber",
    "addok.helpers.text.synonymize",
    "addok_fr.phonemicize",
]
BATCH_WORKERS = 2
LOG_DIR = {log_dir!r}
LOG_QUERIES = False
LOG_NOT_FOUND = False
"""

_DEPARTEMENTS = {"75": "Paris, Île-de-France", "93": "Seine-Saint-Denis, Île-de-France"}


def _context(citycode: str) -> str:
    dep = citycode[:2]
    return f"{dep}, {_DEPARTEMENTS.get(dep, '')}".rstrip(", ")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Windows-1252 ("AllÃ©e" -> "Allée"), else return the text as is."""
    # About a quarter of the Bondy extract's street names are double-encoded; the live BAN
    # is not, and addok's ordinal handling trips over "Ã©" ("3 bis" loses its "bis").
    if "Ã" not in text and "â€" not in text and "Â" not in text:
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def ban_csv_to_addok(src: Path, dst: IO[str]) -> int:
    """Write addok NDJSON documents (streets and communes) for a BAN CSV; return the count."""
    opener = gzip.open if src.suffix == ".gz" else open
    streets: dict[str, dict[str, Any]] = {}
    communes: dict[str, dict[str, Any]] = {}
    with opener(src, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            lon, lat = float(row["lon"]), float(row["lat"])
            citycode = row["code_insee"]
            # The address id is "<citycode>_<street key>_<number>[_<rep>]" in the BAN CSV.
            street_id = "_".join(row["id"].split("_")[:2])
            street = streets.setdefault(
                street_id,
                {
                    "id": street_id,
                    "type": "street",
                    "name": repair_mojibake(row["nom_voie"]),
                    "postcode": row["code_postal"],
                    "citycode": citycode,
                    "city": repair_mojibake(row["nom_commune"]),
                    "context": _context(citycode),
                    "housenumbers": {},
                },
            )
            number = f"{row['numero']} {row['rep']}".strip()
            street["housenumbers"][number] = {"id": row["id"], "lon": lon, "lat": lat}
            commune = communes.setdefault(
                citycode,
                {
                    "id": citycode,
                    "type": "municipality",
                    "name": row["nom_commune"],
                    "postcode": row["code_postal"],
                    "citycode": citycode,
                    "city": row["nom_commune"],
                    "context": _context(citycode),
                    "importance": 1.0,
                    "_points": [],
                },
            )
            commune["_points"].append((lon, lat))
    count = 0
    for street in streets.values():
        points = [(h["lon"], h["lat"]) for h in street["housenumbers"].values()]
        # A street's own position and importance, like BAN's export: the middle of its
        # numbers, and more numbers means a more important street.
        street["lon"], street["lat"] = _centre(points)
        street["importance"] = round(min(1.0, math.log10(1 + len(points)) / 3), 4)
        dst.write(json.dumps(street, ensure_ascii=False) + "\n")
        count += 1
    for commune in communes.values():
        commune["lon"], commune["lat"] = _centre(commune.pop("_points"))
        dst.write(json.dumps(commune, ensure_ascii=False) + "\n")
        count += 1
    return count


def _centre(points: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        round(sum(p[0] for p in points) / len(points), 6),
        round(sum(p[1] for p in points) / len(points), 6),
    )


@dataclass
class RedisTarget:
    """Where addok keeps its index and documents."""

    host: str
    port: int
    db_indexes: int
    db_documents: int

    def flush(self) -> None:
        """Empty both databases (and only them)."""
        import redis

        for db in (self.db_indexes, self.db_documents):
            client = redis.Redis(host=self.host, port=self.port, db=db, socket_timeout=10)
            try:
                client.flushdb()
            finally:
                client.close()


def check_redis(host: str, port: int) -> None:
    """Fail with a clear message when Redis is not reachable."""
    import redis

    client = redis.Redis(host=host, port=port, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RuntimeError(
            f"addok tests need Redis at {host}:{port} (set QPV_TEST_REDIS=host:port): {exc}"
        ) from exc
    finally:
        client.close()


@contextlib.contextmanager
def claim_redis_dbs(host: str, port: int) -> Iterator[RedisTarget]:
    """Hold a lock on a free pair of Redis databases for as long as the context lasts."""
    lock_dir = Path(tempfile.gettempdir())
    handles: list[IO[bytes]] = []
    try:
        chosen: tuple[int, int] | None = None
        for pair in REDIS_DB_PAIRS:
            handle: IO[bytes] = open(  # noqa: SIM115 (closed in the finally below)
                lock_dir / f"qpv-test-addok-{port}-db{pair[0]}.lock", "wb"
            )
            handles.append(handle)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            chosen = pair
            break
        if chosen is None:
            # Every pair is busy: queue for the first one rather than share it.
            fcntl.flock(handles[0], fcntl.LOCK_EX)
            chosen = REDIS_DB_PAIRS[0]
        yield RedisTarget(host, port, *chosen)
    finally:
        for handle in handles:
            handle.close()  # closing releases the lock


def _addok(args: list[str], env: dict[str, str], timeout: float) -> None:
    cmd = [sys.executable, "-c", "from addok.bin import main; main()", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(
            f"addok {args[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
            f"{proc.stderr[-4000:]}"
        )


class AddokServer:
    """An indexed addok served on 127.0.0.1 by a child process."""

    def __init__(self, ban_csv: Path, workdir: Path, redis: RedisTarget) -> None:
        """Prepare paths; nothing runs until ``start``."""
        self.ban_csv = ban_csv
        self.workdir = workdir
        self.redis = redis
        self.config_path = workdir / "addok.conf"
        self.url = ""
        self.documents = 0
        self._proc: subprocess.Popen[str] | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ADDOK_CONFIG_MODULE"] = str(self.config_path)
        # addok also reads REDIS_* from the environment; the config file must win.
        for key in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB_INDEXES", "REDIS_DB_DOCUMENTS"):
            env.pop(key, None)
        env["PYTHONWARNINGS"] = "ignore"
        return env

    def build(self) -> None:
        """Convert the BAN file, write the config, flush the databases and index."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            _CONFIG_TEMPLATE.format(
                host=self.redis.host,
                port=self.redis.port,
                db_indexes=self.redis.db_indexes,
                db_documents=self.redis.db_documents,
                log_dir=str(self.workdir),
            ),
            encoding="utf-8",
        )
        ndjson = self.workdir / "ban.ndjson"
        with ndjson.open("w", encoding="utf-8") as out:
            self.documents = ban_csv_to_addok(self.ban_csv, out)
        self.redis.flush()
        env = self._env()
        _addok(["batch", str(ndjson)], env, timeout=300)
        _addok(["ngrams"], env, timeout=300)

    def start(self, timeout: float = 30.0) -> str:
        """Serve on a free loopback port; return the base URL once it answers."""
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        output: list[str] = []
        assert self._proc.stdout is not None
        stdout = self._proc.stdout

        def pump() -> None:
            # Keep draining so that the child never blocks on a full pipe.
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self._proc.poll() is not None:
                    break
                continue
            output.append(line)
            if line.startswith(_PORT_PREFIX):
                self.url = f"http://127.0.0.1:{int(line[len(_PORT_PREFIX) :])}"
                break
        if not self.url:
            self.stop()
            raise RuntimeError("addok server did not start:\n" + "".join(output)[-4000:])
        with urllib.request.urlopen(f"{self.url}/health", timeout=10) as resp:
            if resp.status != 200:
                raise RuntimeError(f"addok /health answered {resp.status}")
        return self.url

    def stop(self) -> None:
        """Stop the child process."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None


def _serve() -> None:
    """Child process: serve addok's WSGI app on 127.0.0.1, on a port the OS picks."""
    import signal
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from addok.http.wsgi import application  # type: ignore[import-untyped]  # reads the config

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        # One thread per connection, so that concurrent clients are served concurrently.
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            # The request line carries the address; tests keep it out of logs too.
            pass

    httpd = make_server(
        "127.0.0.1", 0, application, server_class=Server, handler_class=QuietHandler
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    parent = os.getppid()

    def watchdog() -> None:
        # If pytest dies without tearing down (SIGKILL, a crash), do not outlive it.
        while os.getppid() == parent:
            time.sleep(1)
        httpd.shutdown()

    threading.Thread(target=watchdog, daemon=True).start()
    print(f"{_PORT_PREFIX}{httpd.server_address[1]}", flush=True)
    httpd.serve_forever()
    httpd.server_close()


if __name__ == "__main__":
    _serve()
