"""The one migration history runs on both backends."""

from sqlalchemy import create_engine, inspect


def test_migrations_create_the_qpv_tables_on_each_backend(database_url: str) -> None:
    tables = set(inspect(create_engine(database_url)).get_table_names())
    assert {"datasets", "qpv", "alembic_version", "division_imports", "communes"} <= tables
