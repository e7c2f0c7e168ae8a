"""Storage: SQLAlchemy models, engine and repositories (SQLite or PostgreSQL/PostGIS)."""
