"""What the database publishes to running processes: the data generation and the data it names.

A change of what the service answers from (a QPV dataset made current, administrative
divisions imported, a reload asked for) bumps the generation *in the transaction that makes
the change* (``publish``), and records the state the new generation announces: a kill at
any moment leaves the old state or the new one, complete and announced. Processes read the
generation and the current data together, in one statement (``read_state``), so the number
a process holds always names the data it loaded.

    with engine.begin() as conn:      # or session.connection() inside a Session's transaction
        ...                           # the change
        generation = publish(conn)    # same transaction: committed together, or not at all
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.orm import Session

from app.db.models import DataGeneration, Dataset, DivisionsImport
from app.db.repositories import dataset_info
from app.spatial.geography import Geography
from app.spatial.records import DatasetInfo

_ROW = DataGeneration.id == 1  # the one row (created by migration 0006)
_NEWEST_DIVISIONS = select(func.max(DivisionsImport.id)).scalar_subquery()


def state_key(datasets: Iterable[tuple[str, int]], divisions_id: int | None) -> str:
    """The key of a published state: the current dataset of each geography, the divisions."""
    parts = [f"qpv{geography}={dataset_id}" for geography, dataset_id in sorted(datasets)]
    return ",".join([*parts, f"divisions={divisions_id or 0}"])


@dataclass(frozen=True, slots=True)
class DataState:
    """The data generation and the data it names, as read together from the database."""

    generation: int
    datasets: tuple[DatasetInfo, ...]  # the current dataset of each geography
    divisions_id: int | None  # the administrative divisions in use (the newest import)
    announced: str | None  # the key of the state the generation announced

    @property
    def key(self) -> str:
        """What is current, as ``state_key`` spells it."""
        return state_key(((str(d.geography), d.id) for d in self.datasets), self.divisions_id)

    @property
    def is_announced(self) -> bool:
        """Whether the generation announced this state (false: running servers may miss it)."""
        return self.announced == self.key

    def versions(self) -> dict[Geography, str]:
        """The version of the current dataset of each geography."""
        return {d.geography: d.version for d in self.datasets}

    def same_data(self, other: DataState) -> bool:
        """Whether ``other`` is the same generation of the same data."""
        return (self.generation, self.key) == (other.generation, other.key)


def read_state(engine: Engine) -> DataState:
    """The generation and the current data, in one statement (one snapshot on either backend)."""
    query = (
        select(
            DataGeneration.generation,
            DataGeneration.announced,
            _NEWEST_DIVISIONS.label("divisions_id"),
            Dataset,
        )
        .select_from(DataGeneration)
        .outerjoin(Dataset, Dataset.state == "current")
        .where(_ROW)
        .order_by(Dataset.geography)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
    if not rows:
        return DataState(0, (), None, None)
    generation, announced, divisions_id, _ = rows[0]
    datasets = tuple(dataset_info(row[3]) for row in rows if row[3] is not None)
    return DataState(int(generation), datasets, divisions_id, announced)


def _current_key(conn: Connection) -> str:
    datasets = conn.execute(select(Dataset.geography, Dataset.id).where(Dataset.state == "current"))
    return state_key(((g, i) for g, i in datasets), conn.scalar(select(_NEWEST_DIVISIONS)))


def publish(conn: Connection) -> int:
    """Bump the generation and record the state it announces, in the caller's transaction."""
    # The row is updated first: a concurrent publisher waits for this commit, then reads
    # the state this one made (each statement of READ COMMITTED sees the latest commits).
    conn.execute(
        update(DataGeneration)
        .where(_ROW)
        .values(generation=DataGeneration.generation + 1, changed_at=datetime.now(UTC))
    )
    conn.execute(update(DataGeneration).where(_ROW).values(announced=_current_key(conn)))
    return int(conn.scalar(select(DataGeneration.generation).where(_ROW)) or 0)


def announce_if_missing(conn: Connection) -> int | None:
    """Publish the current state unless the generation already announced it; the new
    generation, or None when there was nothing to repair."""
    announced = conn.scalar(select(DataGeneration.announced).where(_ROW))
    return publish(conn) if announced != _current_key(conn) else None
