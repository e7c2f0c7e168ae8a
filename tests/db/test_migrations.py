"""The one migration history runs on both backends."""

from sqlalchemy import create_engine, inspect


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
