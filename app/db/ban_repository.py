"""Storage of the offline geocoder's tables (``ban_streets``, ``ban_addresses``,
``ban_imports``); the only place that knows their SQL.

Writes happen in the caller's transaction: the rows of the replaced scopes are deleted,
the new rows bulk loaded (COPY on PostgreSQL, executemany on SQLite) with ids allocated
after the current maximum, and the file's provenance recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, delete, func, insert, select

from app.db.models import BanAddress, BanImport, BanStreet
from app.geocoding.ban_file import BanFile, ReplaceScope, StreetToStore
from app.geocoding.local.store import write_store
from app.geocoding.local.tables import (
    AddressRecord,
    AddressTable,
    StreetRecord,
    StreetTable,
    build_tables,
)

_STREET_COLUMNS = ("id", *StreetToStore._fields)
_ADDRESS_COLUMNS = ("street_id", "numero", "rep", "lon", "lat", "ban_id")
_CHUNK = 50_000


def replace_ban_file(
    conn: Connection,
    ban: BanFile,
    streets: Sequence[StreetToStore],
    *,
    replace: ReplaceScope,
    scopes: Collection[str],
) -> None:
    """Delete the rows of ``scopes`` (départements or communes), then store the file's rows."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Concurrent imports would race on the ids allocated below.
        conn.exec_driver_sql("LOCK TABLE ban_streets, ban_addresses IN SHARE ROW EXCLUSIVE MODE")
    if scopes:
        column = BanStreet.departement if replace == "departement" else BanStreet.citycode
        scope = column.in_(sorted(scopes))
        conn.execute(
            delete(BanAddress).where(BanAddress.street_id.in_(select(BanStreet.id).where(scope)))
        )
        conn.execute(delete(BanStreet).where(scope))
    first_id = int(conn.scalar(select(func.coalesce(func.max(BanStreet.id), 0))) or 0) + 1
    street_rows = ((first_id + i, *s) for i, s in enumerate(streets))
    street_ids = (first_id + i for i in ban.street_index)
    address_rows = zip(street_ids, ban.numero, ban.rep, ban.lon, ban.lat, ban.ban_id, strict=True)
    if postgres:
        _copy(conn, BanStreet.__tablename__, _STREET_COLUMNS, street_rows)
        _copy(conn, BanAddress.__tablename__, _ADDRESS_COLUMNS, address_rows)
        # Keep the sequence ahead of the ids allocated here, should anything insert by default.
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('ban_addresses', 'id'), "
            "COALESCE((SELECT MAX(id) FROM ban_addresses), 1))"
        )
    else:
        _executemany(conn, BanStreet.__tablename__, _STREET_COLUMNS, street_rows)
        _executemany(conn, BanAddress.__tablename__, _ADDRESS_COLUMNS, address_rows)
    _record_import(conn, ban, len(streets))


def _record_import(conn: Connection, ban: BanFile, street_count: int) -> None:
    conn.execute(
        insert(BanImport).values(
            source_name=ban.source_name,
            sha256=ban.sha256,
            departements=", ".join(sorted(ban.departements)),
            street_count=street_count,
            address_count=len(ban.numero),
            skipped_count=ban.skipped,
            imported_at=datetime.now(UTC),
        )
    )


def _copy(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """PostgreSQL's COPY FROM STDIN: the fastest bulk load, rows streamed."""
    raw: Any = conn.connection.driver_connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _executemany(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """SQLite's own executemany: several times faster than SQLAlchemy's for plain tuples."""
    cursor: Any = conn.connection.driver_connection
    marks = ", ".join("?" * len(columns))
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def read_ban_tables(engine: Engine) -> tuple[StreetTable, AddressTable]:
    """The geocoder's street and address tables, read in one snapshot, in memory."""
    with ban_rows(engine) as (streets, addresses):
        return build_tables([s for chunk in streets for s in chunk], addresses)


def write_ban_store(engine: Engine, directory: Path) -> None:
    """The geocoder's tables, read in one snapshot, written as a store (``store``)."""
    with ban_rows(engine) as (streets, addresses):
        write_store(directory, streets, addresses)


@contextmanager
def ban_rows(
    engine: Engine,
) -> Iterator[tuple[Iterator[list[StreetRecord]], Iterator[list[AddressRecord]]]]:
    """Street rows by id, then address rows by street, streamed in chunks from one snapshot.

    The street chunks must be consumed before the address chunks (one connection).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for both tables, should an import commit in between.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        yield _street_chunks(conn), _address_chunks(conn)


def _street_chunks(conn: Connection) -> Iterator[list[StreetRecord]]:
    query = select(*(getattr(BanStreet, f) for f in StreetRecord._fields)).order_by(BanStreet.id)
    result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
    for chunk in result.partitions(_CHUNK):
        yield cast("list[StreetRecord]", chunk)


def imported_hashes(engine: Engine) -> set[str]:
    """Content hashes of the BAN files imported into the tables."""
    with engine.connect() as conn:
        return set(conn.scalars(select(BanImport.sha256)))


def _address_chunks(conn: Connection) -> Iterator[list[AddressRecord]]:
    """Address rows sorted by street (then number), streamed in chunks."""
    query = select(*(getattr(BanAddress, f) for f in AddressRecord._fields)).order_by(
        BanAddress.street_id, BanAddress.numero, BanAddress.rep
    )
    if conn.dialect.name == "sqlite":
        # The driver's own tuples: SQLAlchemy's rows cost more than the query itself on the
        # tens of millions of addresses of a national file.
        driver: Any = conn.connection.driver_connection
        cursor = driver.cursor()
        cursor.execute(str(query.compile(conn)))
        while rows := cursor.fetchmany(_CHUNK):
            yield rows
        return
    result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
    for chunk in result.partitions(_CHUNK):
        # Rows already are named tuples in AddressRecord's order: no copy per address.
        yield cast("list[AddressRecord]", chunk)


def imports_fingerprint(engine: Engine) -> str:
    """A key of the imported content: every import recorded, in order (file hash, scope)."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for row in conn.execute(
            select(BanImport.id, BanImport.sha256, BanImport.departements).order_by(BanImport.id)
        ):
            digest.update(f"{row.id}:{row.sha256}:{row.departements}\n".encode())
    return digest.hexdigest()[:24]


def has_addresses(engine: Engine) -> bool:
    """Whether the tables hold any address (no count: they can be huge)."""
    with engine.connect() as conn:
        return conn.scalar(select(BanAddress.id).limit(1)) is not None
