"""The one migration history runs on both backends."""

import shutil
from pathlib import Path

from sqlalchemy import create_engine, inspect, text


def test_migrations_create_the_qpv_tables_on_each_backend(database_url: str) -> None:
    tables = set(inspect(create_engine(database_url)).get_table_names())
    assert {"datasets", "qpv", "alembic_version", "division_imports", "communes"} <= tables


def test_migration_0005_marks_the_newest_dataset_of_each_geography_current(
    database_url: str,
) -> None:
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import text

    from app.db.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(database_url), "0004")
    engine = create_engine(database_url)
    rows = [(1, "2024", "a"), (2, "2015", "b"), (3, "2024", "c")]
    with engine.begin() as conn:
        for id_, geography, sha in rows:
            conn.execute(
                text(
                    "INSERT INTO datasets (id, geography, source_name, sha256, feature_count, "
                    "repaired_count, imported_at) VALUES (:id, :g, 'f', :sha, 0, 0, :at)"
                ),
                {"id": id_, "g": geography, "sha": sha, "at": datetime.now(UTC)},
            )
    upgrade(database_url)
    with engine.begin() as conn:
        states = conn.execute(text("SELECT id, state, member FROM datasets ORDER BY id")).all()
        # The same content from another archive member is another dataset.
        conn.execute(
            text(
                "INSERT INTO datasets (id, geography, source_name, sha256, member, feature_count, "
                "repaired_count, imported_at, state) "
                "VALUES (4, '2015', 'f', 'b', 'x.shp', 0, 0, :at, 'previous')"
            ),
            {"at": datetime.now(UTC)},
        )
    engine.dispose()
    assert [tuple(r) for r in states] == [
        (1, "previous", ""),
        (2, "current", ""),
        (3, "current", ""),
    ]


def test_migrating_a_loaded_sqlite_file_down_and_up_keeps_every_quartier(
    loaded_sqlite_url: str, tmp_path: Path
) -> None:
    from alembic import command

    from app.db.migrate import alembic_config, upgrade

    copy = tmp_path / "copy.sqlite3"
    shutil.copy(loaded_sqlite_url.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"

    def counts() -> tuple[int, int]:
        engine = create_engine(url)
        with engine.connect() as conn:
            found = (
                conn.scalar(text("SELECT count(*) FROM qpv")),
                conn.scalar(text("SELECT count(*) FROM qpv_grids")),
            )
        engine.dispose()
        return (int(found[0] or 0), int(found[1] or 0))

    before = counts()
    # Tables rebuilt by batch migrations on SQLite must not cascade to the quartiers.
    command.downgrade(alembic_config(url), "0004")
    assert counts() == before
    upgrade(url)
    assert counts() == before == (1584 + 1514, 2)
