"""The QPV spatial core: territories, geographies and the in-memory index (no web, no DB)."""
